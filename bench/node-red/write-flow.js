// Writes the Node-RED flow (flows.json) and settings (settings.js) of the benchmark's
// Node-RED arm into the work folder. Called by bench/node-red/arm with one JSON argument:
// {work, home, in, domestic, overseas, ca, cert, key, overseasCa, table, pseudonymKey, topicPrefix}.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const a = JSON.parse(process.argv[2]);
const die = (why) => {
  process.stderr.write('node-red/arm: ' + why + '\n');
  process.exit(2);
};

function broker(url, what) {
  const m = /^(tcp|mqtt|ssl|mqtts):\/\/([^:/]+):(\d+)$/.exec(url || '');
  if (!m) die(what + ': expected tcp://HOST:PORT or ssl://HOST:PORT, got ' + JSON.stringify(url));
  return { host: m[2], port: m[3], tls: m[1] === 'ssl' || m[1] === 'mqtts' };
}
const readable = (file, what) => {
  if (!file) return '';
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    die(what + ' ' + file + ': cannot read');
  }
  return path.resolve(file);
};

let table;
try {
  table = JSON.parse(fs.readFileSync(a.table, 'utf8'));
} catch (e) {
  die('--policy-table ' + a.table + ': ' + e.message + ' (make it with cordon-policy decisions; see --help)');
}
if (!Array.isArray(table.endpoints) || !Array.isArray(table.signals) || !table.settings) {
  die('--policy-table ' + a.table + ': not the output of cordon-policy decisions');
}
const domestic = table.endpoints.filter((e) => e.jurisdiction === 'domestic');
const overseas = table.endpoints.filter((e) => e.jurisdiction === 'overseas');
if (domestic.length !== 1 || overseas.length !== 1 || table.endpoints.length !== 2) {
  die('--policy-table: expected one domestic and one overseas endpoint, found ' +
      table.endpoints.map((e) => e.name + ' (' + e.jurisdiction + ')').join(', '));
}

// The pseudonym key ring: the gateway's file format ("<epoch> <hex>" lines), or a fresh
// random key for epoch 1 in the work folder.
let keyFile = a.pseudonymKey ? readable(a.pseudonymKey, '--pseudonym-key') : path.join(a.work, 'pseudonym.key');
if (!a.pseudonymKey) {
  fs.writeFileSync(keyFile, table.settings.pseudonym_key_epoch + ' ' + crypto.randomBytes(32).toString('hex') + '\n',
                   { mode: 0o600 });
}
for (const line of fs.readFileSync(keyFile, 'utf8').split('\n')) {
  if (line.trim() === '' || line.startsWith('#')) continue;
  if (!/^\d+ [0-9a-fA-F]{64,128}$/.test(line.trim())) die('--pseudonym-key ' + keyFile + ': bad line');
}

const input = broker(a.in, '--in');
const endpointUrl = { [domestic[0].name]: broker(a.domestic, '--domestic'), [overseas[0].name]: broker(a.overseas, '--overseas') };
const tlsOf = {
  [domestic[0].name]: { ca: readable(a.ca, '--ca'), cert: readable(a.cert, '--cert'), key: readable(a.key, '--key') },
  [overseas[0].name]: { ca: readable(a.overseasCa || a.ca, '--overseas-ca'), cert: '', key: '' },
};

const tab = 'cordon-tab';
const nodes = [{ id: tab, type: 'tab', label: 'Cordon benchmark arm', disabled: false, info: '' }];
function mqttBroker(id, name, b, tlsId, clientId) {
  nodes.push({
    id, type: 'mqtt-broker', name, broker: b.host, port: b.port, tls: tlsId || '', clientid: clientId,
    autoConnect: true, usetls: b.tls, protocolVersion: '4', keepalive: '60', cleansession: true,
    autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', birthMsg: {}, closeTopic: '',
    closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0', willPayload: '', willMsg: {},
    userProps: '', sessionExpiry: '',
  });
}
mqttBroker('broker-in', 'in-vehicle', input, '', 'cordon-node-red');
const outputs = [];
table.endpoints.forEach((e, i) => {
  const b = endpointUrl[e.name];
  let tlsId = '';
  if (b.tls) {
    tlsId = 'tls-' + i;
    const t = tlsOf[e.name];
    nodes.push({ id: tlsId, type: 'tls-config', name: e.name, cert: t.cert, key: t.key, ca: t.ca, certname: '',
                 keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' });
  }
  // Client ids name the tool and the endpoint, never the vehicle.
  mqttBroker('broker-' + i, e.name, b, tlsId, 'cordon-node-red-' + e.name);
  nodes.push({ id: 'out-' + i, type: 'mqtt out', z: tab, name: 'to ' + e.name, topic: '', qos: '1', retain: 'false',
               respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'broker-' + i,
               x: 700, y: 100 + 60 * i, wires: [] });
  outputs.push(['out-' + i]);
});
const read = (file) => fs.readFileSync(path.join(__dirname, file), 'utf8');
nodes.push(
  { id: 'frames-in', type: 'mqtt in', z: tab, name: 'frames', topic: a.topicPrefix + '/frames/+', qos: '1',
    datatype: 'buffer', broker: 'broker-in', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 100,
    wires: [['filter']] },
  // On Start builds the tables and compiles processFrame() once (on-message.js); On Message calls it.
  { id: 'filter', type: 'function', z: tab, name: 'decode, decide, transform, encode',
    func: "return context.get('processFrame')(msg);", outputs: outputs.length, timeout: 0, noerr: 0,
    initialize: read('on-start.js') + '\n(function () {\n' + read('on-message.js') + '})();\n', finalize: '', libs: [],
    x: 400, y: 100, wires: outputs },
  { id: 'tick', type: 'inject', z: tab, name: 'every second', props: [], repeat: '1', crontab: '', once: true,
    onceDelay: '0.5', topic: '', x: 140, y: 260, wires: [['status']] },
  { id: 'status', type: 'function', z: tab, name: 'status',
    func: read('status.js'), outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
    x: 400, y: 260, wires: [['status-out']] },
  { id: 'status-out', type: 'mqtt out', z: tab, name: 'status', topic: a.topicPrefix + '/status/node-red', qos: '1',
    retain: 'true', broker: 'broker-in', x: 700, y: 260, wires: [] },
);
fs.writeFileSync(path.join(a.work, 'flows.json'), JSON.stringify(nodes, null, 1));

const settings = `// Written by bench/node-red/arm: Node-RED headless (no editor, no HTTP listener),
// everything under this folder and the install in ${a.home}.
'use strict';
const fs = require('fs');
const keys = {};
for (const line of fs.readFileSync(${JSON.stringify(keyFile)}, 'utf8').split('\\n')) {
  const m = /^(\\d+) ([0-9a-fA-F]+)$/.exec(line.trim());
  if (m) keys[Number(m[1])] = Buffer.from(m[2], 'hex');
}
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: 0,
  httpAdminRoot: false,
  httpNodeRoot: false,
  userDir: ${JSON.stringify(a.work)},
  flowFile: 'flows.json',
  credentialSecret: false,
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false } },
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  functionExternalModules: false,
  contextStorage: { default: { module: 'memory' } },
  exportGlobalContextKeys: false,
  functionGlobalContext: {
    cordon: {
      table: JSON.parse(fs.readFileSync(${JSON.stringify(path.resolve(a.table))}, 'utf8')),
      pseudonymKeys: keys,
      topicPrefix: ${JSON.stringify(a.topicPrefix)},
      crypto: require('crypto'),
      flatbuffers: require(${JSON.stringify(path.join(a.home, 'node_modules/flatbuffers'))}),
      wire: require(${JSON.stringify(path.join(a.home, 'lib/cordon-telemetry.js'))}),
    },
  },
};
`;
fs.writeFileSync(path.join(a.work, 'settings.js'), settings);
