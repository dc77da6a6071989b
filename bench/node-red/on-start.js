// The "On Start" code of the flow's filter node (bench/node-red/README.md). It turns the
// policy table (`cordon-policy decisions`, one fixed context) into per-endpoint lookup
// arrays by registry id, so that the per-frame code never hand-codes a rule. Everything
// comes from global.get('cordon'), which settings.js fills: the table, the pseudonym key,
// the npm flatbuffers runtime and the readers flatc generated from schemas/telemetry.fbs.
const cordon = global.get('cordon');
const table = cordon.table;

// Treatment codes, as cordon-policy names them.
const T = { block: 0, pass: 1, strip: 2, generalise_location: 3, pseudonymise: 4, coarsen_time: 5, mask_regions: 6 };

// The wire Value union member each registry datatype travels as (telemetry.fbs; the
// gateway's FrameVerifier refuses a frame whose value kind does not match).
const V = cordon.wire.Value;
function kindOf(datatype) {
  if (datatype === 'Boolean') return V.BoolValue;
  if (datatype === 'BooleanArray') return V.BoolArray;
  if (datatype === 'String') return V.StringValue;
  if (datatype === 'StringArray') return V.StringArray;
  if (datatype === 'Bytes') return V.BytesValue;
  if (datatype === 'GeoPoint') return V.GeoPoint;
  if (datatype === 'Image') return V.Image;
  if (datatype === 'Float' || datatype === 'Double') return V.DoubleValue;
  if (datatype === 'FloatArray' || datatype === 'DoubleArray') return V.DoubleArray;
  if (/^Int\d+$/.test(datatype)) return V.IntValue;
  if (/^Int\d+Array$/.test(datatype)) return V.IntArray;
  if (/^UInt\d+$/.test(datatype)) return V.UIntValue;
  if (/^UInt\d+Array$/.test(datatype)) return V.UIntArray;
  return V.NONE;
}
// Integer bounds of narrow datatypes (an out-of-range value rejects the frame, as the
// gateway's verifier does); null for 64-bit ones and non-integers.
function boundsOf(datatype) {
  const m = /^(U?)Int(8|16|32)(Array)?$/.exec(datatype);
  if (!m) return null;
  const bits = Number(m[2]);
  return m[1] ? [0n, (1n << BigInt(bits)) - 1n] : [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n];
}

const maxId = table.signals.reduce((a, s) => Math.max(a, s.id), 0);
const registry = new Array(maxId + 1).fill(null);
for (const s of table.signals) {
  registry[s.id] = {
    path: s.path,
    kind: kindOf(s.datatype),
    wide: /^U?Int64(Array)?$/.test(s.datatype),
    bounds: boundsOf(s.datatype),
    latitude: (s.datatype === 'Double' || s.datatype === 'Float') && s.path.endsWith('.Latitude'),
    longitude: (s.datatype === 'Double' || s.datatype === 'Float') && s.path.endsWith('.Longitude'),
    partner: 0,
  };
}
// Latitude and longitude leaves of one parent form a position, generalised together.
const parents = new Map();
for (const s of table.signals) {
  const r = registry[s.id];
  if (!r.latitude && !r.longitude) continue;
  const parent = s.path.slice(0, s.path.lastIndexOf('.'));
  const pair = parents.get(parent) || [0, 0];
  pair[r.latitude ? 0 : 1] = s.id;
  parents.set(parent, pair);
}
for (const [lat, lon] of parents.values()) {
  if (lat && lon) {
    registry[lat].partner = lon;
    registry[lon].partner = lat;
  }
}

const endpoints = table.endpoints.map((e) => {
  const plain = new Uint8Array(maxId + 1);     // 0 = block: an id outside the table never leaves
  const people = new Uint8Array(maxId + 1);    // images with annotated regions (image_has_people)
  for (const s of table.signals) {
    plain[s.id] = T[s.treatment[e.name]] ?? T.block;
    people[s.id] = T[(s.image_has_people || s.treatment)[e.name]] ?? T.block;
  }
  return {
    name: e.name,
    domestic: e.jurisdiction === 'domestic',
    plain,
    people,
    lastWindow: new Map(),  // location schedule: vehicle#signal -> last window decided
  };
});

// The location grid (gateway/transform/location_grid.cpp): rows of equal latitude angle,
// a whole number of columns per row fitted at the row's poleward edge (WGS-84).
const cellM = table.settings.location_cell_m;
const rowHeightDeg = cellM / 110574.0;
const rows = Math.max(1, Math.floor(180.0 / rowHeightDeg));
const RAD = Math.PI / 180;
const E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563);
function metresPerDegreeLon(latDeg) {
  const s = Math.sin(latDeg * RAD);
  const w = Math.sqrt(1 - E2 * s * s);
  return Math.max(0, (6378137.0 / w) * Math.cos(latDeg * RAD)) * RAD;
}
function cellCentre(lat, lon) {
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null;
  const row = Math.min(Math.max(Math.floor((lat + 90) / rowHeightDeg), 0), rows - 1);
  const south = -90 + row * rowHeightDeg;
  const north = row + 1 >= rows ? 90 : -90 + (row + 1) * rowHeightDeg;
  const poleward = Math.min(90, Math.max(Math.abs(south), Math.abs(north)));
  const columns = Math.max(1, Math.floor((360 * metresPerDegreeLon(poleward)) / cellM));
  const width = 360 / columns;
  const col = Math.min(Math.max(Math.floor(((lon === 180 ? -180 : lon) + 180) / width), 0), columns - 1);
  const west = -180 + col * width;
  const east = col + 1 === columns ? 180 : -180 + (col + 1) * width;
  return [(south + north) / 2, (west + east) / 2];
}

// Keyed pseudonyms (gateway/transform/pseudonymiser.cpp): "p<epoch>:" + base32 of the
// first 16 bytes of HMAC-SHA256(key, u32be(len(domain)) || domain || value).
const crypto = cordon.crypto;
const epoch = table.settings.pseudonym_key_epoch;
const key = cordon.pseudonymKeys[epoch];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
// Pseudonyms are a function of domain and value: the last ones are remembered (the
// envelope's vehicle id is the same in every frame), at most kRemembered of them.
const kRemembered = 4096;
const remembered = new Map();
function pseudonymise(domain, value) {
  const memo = domain + '\u0000' + value.toString('latin1');
  const known = remembered.get(memo);
  if (known !== undefined) return known;
  if (remembered.size >= kRemembered) remembered.clear();
  const fresh = computePseudonym(domain, value);
  if (fresh !== null) remembered.set(memo, fresh);
  return fresh;
}
function computePseudonym(domain, value) {
  if (!key) return null;  // no key for the policy's epoch: the field is stripped (fail closed)
  const d = Buffer.from(domain, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(d.length);
  const mac = crypto.createHmac('sha256', key).update(length).update(d).update(value).digest().subarray(0, 16);
  let out = 'p' + epoch + ':', bits = 0, acc = 0;
  for (const b of mac) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

const counts = { frames: 0, rejected: 0, published: endpoints.map(() => 0), empty: endpoints.map(() => 0) };
flow.set('counts', counts);
flow.set('endpointNames', endpoints.map((e) => e.name));
// The reader class of each Value union member, by its type code.
const W = cordon.wire;
const tableOf = [];
for (const name of ['BoolValue', 'IntValue', 'UIntValue', 'DoubleValue', 'StringValue', 'BytesValue', 'BoolArray',
                    'IntArray', 'UIntArray', 'DoubleArray', 'StringArray', 'GeoPoint', 'Image']) {
  tableOf[V[name]] = W[name];
}
context.set('state', {
  T, V, registry, tableOf, endpoints, cellCentre, pseudonymise,
  wire: cordon.wire,
  flatbuffers: cordon.flatbuffers,
  randomId: () => crypto.randomBytes(16).toString('hex'),
  timeCoarsenNs: BigInt(table.settings.time_coarsen_s) * 1000000000n,
  locationPeriodNs: BigInt(table.settings.location_period_s) * 1000000000n,
  cellM,
  topicPrefix: cordon.topicPrefix,
  counts,
});
