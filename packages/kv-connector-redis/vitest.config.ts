import { memVitestConfig } from '@mem/testkit/vitest-config';

export default memVitestConfig(import.meta.dirname);
