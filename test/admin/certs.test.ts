import test from 'ava';
import { createCertsView } from '../../src/admin/certs.js';
import { selfSignedCertificate } from '../helpers/self-signed-cert.js';

test('the served chain and the client CA, with SANs and dates; the key is never in the view', (t) => {
  const served = selfSignedCertificate('shop.test', ['shop.test', '*.shop.test']);
  const ca = selfSignedCertificate('client-ca.test');
  const now = Date.now();
  const view = createCertsView({ 'default/edge#0': { pairs: [served], ca: ca.cert } }, now);
  const [entry] = view.certificates;
  t.is(entry!.server, 'default/edge#0');
  t.deepEqual(entry!.cert_chain[0]!.subject_alt_names, ['DNS:shop.test', 'DNS:*.shop.test']);
  t.is(entry!.cert_chain[0]!.subject, 'CN=shop.test');
  t.is(entry!.ca_cert[0]!.subject, 'CN=client-ca.test');
  t.true(Date.parse(entry!.cert_chain[0]!.expiration_time) > now);
  t.false(JSON.stringify(view).includes('PRIVATE KEY'));
});
