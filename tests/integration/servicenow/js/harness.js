// Runs integration/servicenow/business_rule.js against stub ServiceNow objects.
// Input (stdin, JSON): {script, table, operation, record: {col: {value, display, type, choice}},
//   properties: {name: value}, guid, now_ms}
// Output (stdout, JSON): {requests: [{endpoint, method, headers, body, async, timeout, mid}], logs: [...]}
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const vm = require('vm');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const requests = [];
const logs = [];

const record = input.record;
const current = {
  getTableName: () => input.table,
  getUniqueValue: () => record.sys_id.value,
  isValidField: (name) => Object.prototype.hasOwnProperty.call(record, name),
  getValue: (name) => (record[name] ? record[name].value : null),
  getDisplayValue: (name) => (record[name] ? (record[name].display ?? record[name].value) : ''),
  getElement: (name) => ({
    getED: () => ({
      getInternalType: () => (record[name] && record[name].type) || 'string',
      isChoiceTable: () => Boolean(record[name] && record[name].choice),
    }),
  }),
};
if (input.operation) current.operation = () => input.operation;

const gs = {
  getProperty: (name, dflt) =>
    Object.prototype.hasOwnProperty.call(input.properties, name) ? input.properties[name] : dflt,
  generateGUID: () => input.guid,
  base64Encode: (s) => Buffer.from(String(s), 'utf8').toString('base64'),
  warn: (m) => logs.push({level: 'warn', message: String(m)}),
  error: (m) => logs.push({level: 'error', message: String(m)}),
  info: (m) => logs.push({level: 'info', message: String(m)}),
};

function CertificateEncryption() {}
// Same contract as ServiceNow: key given base64-encoded, returns the base64 MAC.
CertificateEncryption.prototype.generateMac = function (keyB64, algorithm, data) {
  if (algorithm !== 'HmacSHA256') throw new Error('unexpected algorithm ' + algorithm);
  return crypto.createHmac('sha256', Buffer.from(keyB64, 'base64')).update(String(data), 'utf8').digest('base64');
};

function RESTMessageV2() {
  this.req = {headers: {}, async: false};
}
RESTMessageV2.prototype.setEndpoint = function (u) { this.req.endpoint = u; };
RESTMessageV2.prototype.setHttpMethod = function (m) { this.req.method = m; };
RESTMessageV2.prototype.setRequestHeader = function (k, v) { this.req.headers[k] = v; };
RESTMessageV2.prototype.setRequestBody = function (b) { this.req.body = b; };
RESTMessageV2.prototype.setHttpTimeout = function (t) { this.req.timeout = t; };
RESTMessageV2.prototype.setMIDServer = function (m) { this.req.mid = m; };
RESTMessageV2.prototype.executeAsync = function () { this.req.async = true; requests.push(this.req); return {}; };
RESTMessageV2.prototype.execute = function () { requests.push(this.req); return {}; };

const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) { if (args.length) { super(...args); } else { super(input.now_ms); } }
}

const sandbox = {current, previous: null, gs, sn_ws: {RESTMessageV2}, CertificateEncryption,
  Date: FixedDate, JSON, Math, String, parseInt};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(input.script, 'utf8'), sandbox, {filename: 'business_rule.js'});
process.stdout.write(JSON.stringify({requests, logs}));
