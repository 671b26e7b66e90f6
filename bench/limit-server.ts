/**
 * The benchmark's "limit": the least any gateway on this machine could do for each scenario. Plain
 * node:http, no GraphQL engine: the operation is picked by `operationName`, the ideal upstream
 * calls are made over keep-alive agents, and the JSON Junction writes is built by hand. SOAP is
 * parsed with regexes. It is a ceiling to measure against, not a product.
 * Env: PAYMENTS_URL, MAPS_URL, MESSAGING_URL, PORT (0 = any). Prints `GraphQL   <url>/graphql`.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentialHeaders } from '../sources/demo/credentials.ts';
import { plainUsernameTokenHeader } from '../gateway/upstream/ws-security.ts';

const [PAY, MAPS, MSG] = ['PAYMENTS_URL', 'MAPS_URL', 'MESSAGING_URL'].map((name) => process.env[name] ?? '');
const env = (name: string) => process.env[name] ?? '';
// The backends' credentials, sent as each expects (sources/demo/credentials.ts).
const { payments: PAY_AUTH, messaging: MSG_AUTH } = credentialHeaders({
  payments: { secretKey: env('PAYMENTS_SECRET_KEY') },
  messaging: { accountSid: env('MESSAGING_ACCOUNT_SID'), authToken: env('MESSAGING_AUTH_TOKEN') },
});
const WSSE = `<soap:Header>${plainUsernameTokenHeader(env('MAPS_USERNAME'), env('MAPS_API_KEY'))}</soap:Header>`;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- hand-written ceiling, shapes are known

function call(url: string, body?: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text));
    });
    req.on('error', reject).end(body);
  });
}
const getJson = async (url: string): Promise<Json> => JSON.parse(await call(url, undefined, PAY_AUTH));
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const soap = (op: string, inner: string) => call(`${MAPS}/soap`, '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
  + `xmlns:m="http://junction.dev/maps/v1">${WSSE}<soap:Body><m:${op}Request>${inner}</m:${op}Request></soap:Body></soap:Envelope>`,
  { 'content-type': 'text/xml; charset=utf-8', soapaction: `"http://junction.dev/maps/v1/${op}"` });
const tag = (xml: string, name: string) => unesc(new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '');
const place = (xml: string) => ({ id: tag(xml, 'id'), name: tag(xml, 'name'), location: { lat: Number(tag(xml, 'lat')), lng: Number(tag(xml, 'lng')) } });
const places = (xml: string) => (xml.match(/<place>.*?<\/place>/g) ?? []).map(place);
const addressOf = (a: Json) => `${a.line1}, ${a.postal_code} ${a.city}, ${a.country}`;

async function dashboard(after?: string): Promise<Json> {
  const from = after ? `&starting_after=${encodeURIComponent(Buffer.from(after, 'base64url').toString('utf8').slice('cursor:'.length))}` : '';
  const payments = (await getJson(`${PAY}/v1/payments?limit=50${from}`)).data as Json[];
  const ids = (key: string) => [...new Set(payments.map((p) => p[key] as string))].join(',');
  const [customers, merchants] = await Promise.all([getJson(`${PAY}/v1/customers?ids=${ids('customer')}`), getJson(`${PAY}/v1/merchants?ids=${ids('merchant')}`)]);
  const customerById = new Map<string, Json>(customers.data.map((c: Json) => [c.id, c]));
  const merchantById = new Map<string, Json>(merchants.data.map((m: Json) => [m.id, m]));
  const addresses = [...new Set(customers.data.map((c: Json) => addressOf(c.address)))] as string[];
  const [geo, placeXml, msgs] = await Promise.all([
    soap('GeocodeBatch', addresses.map((a) => `<m:address>${esc(a)}</m:address>`).join('')),
    soap('GetPlaces', [...merchantById.values()].map((m) => `<m:id>${esc(m.place)}</m:id>`).join('')),
    call(`${MSG}/graphql`, JSON.stringify({ query: 'query($ids:[ID!]!,$first:Int!){messagesForCustomers(customerIds:$ids,first:$first){customerId messages{id body status}}}',
      variables: { ids: [...customerById.keys()], first: 3 } }), { 'content-type': 'application/json', ...MSG_AUTH }),
  ]);
  const located = new Map((geo.match(/<result>.*?<\/result>/g) ?? []).map((r) => [tag(r, 'query'), places(r)[0]?.location ?? null]));
  const placeById = new Map(places(placeXml).map((p) => [p.id, { name: p.name, location: p.location }]));
  const messages = new Map<string, Json>(JSON.parse(msgs).data.messagesForCustomers.map((e: Json) => [e.customerId, e.messages]));
  return { payments: { edges: payments.map((p) => {
    const c = customerById.get(p.customer); const m = merchantById.get(p.merchant);
    return { node: { id: p.id, amount: p.amount, currency: p.currency, status: p.status.toUpperCase(),
      customer: { id: c.id, name: c.name, address: { city: c.address.city, location: located.get(addressOf(c.address)) ?? null }, messages: messages.get(c.id) ?? [] },
      merchant: { id: m.id, name: m.name, place: placeById.get(m.place) ?? null } } };
  }) } };
}

async function execute(operationName: string, query: string, variables: Json): Promise<Json> {
  if (operationName === 'Dashboard') return dashboard(variables?.after);
  const arg = /\(\w+:\s*"([^"]*)"\)/.exec(query)?.[1] ?? '';
  if (operationName === 'Payment') {
    const { id, amount, currency, status } = await getJson(`${PAY}/v1/payments/${encodeURIComponent(arg)}`);
    return { payment: { id, amount, currency, status: status.toUpperCase() } };
  }
  if (operationName === 'Geocode') return { geocode: places(await soap('Geocode', `<m:address>${esc(arg)}</m:address>`)) };
  throw new Error(`unknown operation ${operationName}`);
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
    const { operationName, query, variables } = JSON.parse(body || '{}') as { operationName: string; query: string; variables?: Json };
    execute(operationName, query, variables).then((data) => JSON.stringify({ data }), (err: Error) => JSON.stringify({ errors: [{ message: err.message }] }))
      .then((text) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text));
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`GraphQL   http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql\n`);
});
