/** A worker that never answers: the coordinator's start must time out on it. */
setInterval(() => {}, 1000);
