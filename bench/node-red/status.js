// The flow's status, once a second, retained on <prefix>/status/node-red at the in-vehicle
// broker (like cordon-gateway's status topic): frames taken, rejected, and per endpoint the
// messages handed to the MQTT output and the frames that had nothing left for it.
const counts = flow.get('counts');
const names = flow.get('endpointNames');
if (!counts) return null;
return {
  payload: JSON.stringify({
    time_ns: String(BigInt(Date.now()) * 1000000n),
    frames: counts.frames,
    rejected: counts.rejected,
    endpoints: names.map((name, e) => ({ name, published: counts.published[e], empty: counts.empty[e] })),
  }),
};
