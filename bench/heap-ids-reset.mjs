// Loaded into the soaked Junction (node --import), next to --heapsnapshot-signal=SIGUSR2. Writing a
// heap snapshot leaves V8 tracking every object the garbage collector moves, for the snapshot's
// object ids, until the heap profiler is disabled: Junction then served about half as many requests
// per second. Disabling the profiler once the snapshot is written (the signal's listeners all run
// before an immediate) drops those ids and that tracking. Plain JavaScript: Junction runs without
// tsx's loader.
process.on('SIGUSR2', () => setImmediate(async () => {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.disable');
  session.disconnect();
}));
