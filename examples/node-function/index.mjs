// Example function for lambda-lens under the Node.js runtime interface client (aws-lambda-ric).
// One handler per result path the client has, so tests can exercise each through the proxy:
//   index.echo             answers {"requestId", "event"}                       -> /response
//   index.fail             throws a TypeError with the event's "fail" message  -> /error
//   index.streamThenThrow  streams "chunks" lines, then throws                 -> error trailers
//   index.streamThenStall  streams one line, then sleeps past the deadline     -> cut by the timeout

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How long past the deadline a stalled stream sleeps: the platform (or the test) ends it first.
const STALL_PAST_DEADLINE_MS = 60_000;

export const echo = async (event, context) => ({
  requestId: context.awsRequestId,
  event,
});

export const fail = async (event) => {
  throw new TypeError(event.fail);
};

export const streamThenThrow = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let i = 0; i < event.chunks; i += 1) {
    responseStream.write(`chunk ${i}\n`);
    await sleep(event.delayMs);
  }
  throw new RangeError(event.fail);
});

export const streamThenStall = awslambda.streamifyResponse(
  async (event, responseStream, context) => {
    responseStream.write(event.partial);
    await sleep(context.getRemainingTimeInMillis() + STALL_PAST_DEADLINE_MS);
    responseStream.end("never reached: the invocation timed out");
  },
);
