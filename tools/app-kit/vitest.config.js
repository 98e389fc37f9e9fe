/** The kit's tests: `*.spec.js` beside the modules, in forked processes as everywhere in the repository. */
export default { test: { include: ['*.spec.js'], pool: 'forks' } };
