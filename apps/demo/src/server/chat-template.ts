/**
 * The chat template of the byte-level model: how `POST /v1/chat/completions` turns messages into
 * the prompt the model completes. It is ChatML, byte for byte:
 *
 * ```text
 * <|im_start|>system
 * You are terse.<|im_end|>
 * <|im_start|>user name=ada
 * Hello<|im_end|>
 * <|im_start|>assistant
 * ```
 *
 * Each message is `<|im_start|>`, its role (and ` name=<name>` when it has a name), a newline, its
 * text and `<|im_end|>` plus a newline; the prompt ends with the opening of the assistant's turn.
 * The model sees these markers as plain bytes (a byte-level vocabulary has no special tokens), and
 * `<|im_end|>` is a stop sequence of every chat completion, so an answer ends where the model
 * closes its turn.
 *
 * Runs in Node and browsers.
 * @module
 */

/** A message, validated: its role, its text and an optional name. */
export interface ChatMessage {
  /** `system`, `developer`, `user` or `assistant`. */
  readonly role: string;
  /** The message's text (text parts joined). */
  readonly content: string;
  /** The author's name, if the message has one. */
  readonly name?: string;
}

/** Opens a message. */
export const MESSAGE_START = '<|im_start|>';
/** Closes a message; also the stop sequence of every chat completion. */
export const MESSAGE_END = '<|im_end|>';

/** The prompt for `messages`: each message rendered in turn, then the opening of the assistant's turn. */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  let prompt = '';
  for (const message of messages) {
    const name = message.name === undefined ? '' : ` name=${message.name}`;
    prompt += `${MESSAGE_START}${message.role}${name}\n${message.content}${MESSAGE_END}\n`;
  }
  return `${prompt}${MESSAGE_START}assistant\n`;
}
