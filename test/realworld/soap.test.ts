/**
 * Junction's SOAP handler over the 7 real-world WSDLs of the corpus (read in place, never copied):
 * each builds a valid schema, and one operation per WSDL runs end to end through
 * `graphql.execute` against a local stand-in SOAP server that records the request and answers a
 * response envelope built from the operation's XSD with sample values. Each writes its figures to
 * reports/realworld/soap-<slug>.json. The maps demo WSDL then runs against the real demo backend
 * (a server built on the `soap` npm package), with no stand-in at all.
 */
import { DEMO_CREDENTIALS } from '../../sources/demo/credentials.ts';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execute, parse, validate, validateSchema, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSoapModel, loadSoapSource, type SoapSourceOptions } from '../../gateway/composition/soap/index.ts';
import { startMapsBackend } from '../../sources/maps/backend/backend.ts';
import { createSeed } from '../../sources/demo/seed.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';
import { CORPUS_DIR, RESULTS_DIR, corpusFile, corpusPresent, type ConformanceResult } from './corpus.ts';
import { sampleReply, startStandIn, type RecordedRequest, type StandIn } from './soap-stand-in.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';

if (!corpusPresent) console.warn(`SOAP corpus tests skipped: no real-world corpus at ${CORPUS_DIR} (set JUNCTION_REALWORLD_DIR).`);

const SECURITY = { username: 'queue-reader', password: 'pa55word', passwordType: 'PasswordDigest' as const };
const TOKEN_CLOCK = { now: () => new Date('2025-01-02T03:04:05Z'), nonce: () => Buffer.from('fixed-nonce-0001') };

interface Case {
  slug: string;
  /** Path inside the corpus. */
  file: string;
  options?: Partial<SoapSourceOptions>;
  /** Path on the stand-in the endpoint points at. */
  path: string;
  operation: string;
  document: string;
  expected: Record<string, unknown>;
  contentType: string;
  /** The SOAPAction header (1.1), or undefined when there must be none (1.2). */
  soapAction?: string;
  envelope: string;
  body: { local: string; ns: string };
  check?: (request: RecordedRequest) => void;
}

const twice = <T>(value: T): T[] => [value, value];

const CASES: Case[] = [
  {
    slug: 'calculator', file: 'wsdl/calculator/calculator.wsdl', path: '/calculator.asmx', operation: 'Add',
    document: 'mutation { add(intA: 1, intB: 2) }',
    expected: { add: 7 },
    contentType: 'text/xml; charset=utf-8', soapAction: '"http://tempuri.org/Add"', envelope: SOAP11,
    body: { local: 'Add', ns: 'http://tempuri.org/' },
    // elementFormDefault="unqualified": the children are in no namespace.
    check: (r) => expect(r.body).toMatch(/<ns1:Add><intA>1<\/intA><intB>2<\/intB><\/ns1:Add>/),
  },
  {
    slug: 'countryinfo', file: 'wsdl/countryinfo/CountryInfoService.wsdl', path: '/websamples.countryinfo/CountryInfoService.wso',
    operation: 'ListOfContinentsByName',
    document: '{ listOfContinentsByName { sCode sName } }',
    expected: { listOfContinentsByName: twice({ sCode: 'sCode-sample', sName: 'sName-sample' }) },
    contentType: 'text/xml; charset=utf-8', soapAction: '""', envelope: SOAP11,
    body: { local: 'ListOfContinentsByName', ns: 'http://www.oorsprong.org/websamples.countryinfo' },
  },
  {
    slug: 'texas-geocoder', file: 'wsdl/texas-geocoder/TexasGeocoderService_V04_01.wsdl', path: '/Services/Geocode/WebService/GeocoderService_V04_01.asmx',
    options: { soapVersion: '1.2' }, operation: 'GeocodeAddressNonParsed',
    document: `{ geocodeAddressNonParsed(streetAddress: "400 Congress Ave", city: "Austin", state: "TX", zip: "78701", apiKey: "demo",
      version: 4.01, shouldCalculateCensus: false, censusYear: AllAvailable, shouldReturnReferenceGeometry: false,
      shouldNotStoreTransactionDetails: true) {
        TransactionId QueryStatusCodes FeatureMatchingResultType WebServiceGeocodeQueryResults { Latitude Longitude MatchScore GeocodeQualityType } } }`,
    expected: {
      geocodeAddressNonParsed: {
        TransactionId: 'TransactionId-sample', QueryStatusCodes: 'Unknown', FeatureMatchingResultType: ['Unknown', 'Unknown'],
        WebServiceGeocodeQueryResults: twice({ Latitude: 2.5, Longitude: 2.5, MatchScore: 2.5, GeocodeQualityType: 'Unmatchable' }),
      },
    },
    contentType: 'application/soap+xml; charset=utf-8; action="https://geoservices.tamu.edu/GeocodeAddressNonParsed"', envelope: SOAP12,
    body: { local: 'GeocodeAddressNonParsed', ns: 'https://geoservices.tamu.edu/' },
    check: (r) => expect(r.body).toContain('<censusYear>AllAvailable</censusYear>'),
  },
  {
    slug: 'amazon-sqs', file: 'wsdl/amazon-sqs/AmazonSQS-2009-02-01.wsdl', path: '/123456789012/orders',
    options: { security: SECURITY, tokenEnvironment: TOKEN_CLOCK }, operation: 'SendMessage',
    document: 'mutation { sendMessage(MessageBody: "order 42 & more", Attribute: [{ Name: "prio", Value: "high" }]) { SendMessageResult { MessageId MD5OfMessageBody } ResponseMetadata { RequestId } } }',
    expected: { sendMessage: { SendMessageResult: { MessageId: 'MessageId-sample', MD5OfMessageBody: 'MD5OfMessageBody-sample' }, ResponseMetadata: { RequestId: 'RequestId-sample' } } },
    contentType: 'text/xml; charset=utf-8', soapAction: '"SendMessage"', envelope: SOAP11,
    body: { local: 'SendMessage', ns: 'http://queue.amazonaws.com/doc/2009-02-01/' },
    check: (r) => {
      // WS-Security UsernameToken (PasswordDigest), checked against the spec's formula.
      const security = r.header?.['wsse:Security'] as Record<string, Record<string, unknown>>;
      const token = security['wsse:UsernameToken']!;
      const created = '2025-01-02T03:04:05Z';
      const digest = createHash('sha1').update(Buffer.concat([Buffer.from('fixed-nonce-0001'), Buffer.from(created + SECURITY.password)])).digest('base64');
      expect(security['@_xmlns:wsse']).toBe('http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd');
      expect(token['wsse:Username']).toBe('queue-reader');
      expect(token['wsse:Password']).toEqual({ '#text': digest, '@_Type': expect.stringMatching(/#PasswordDigest$/) });
      expect(token['wsse:Nonce']).toMatchObject({ '#text': Buffer.from('fixed-nonce-0001').toString('base64') });
      expect(token['wsu:Created']).toBe(created);
      expect(r.body).not.toContain(SECURITY.password);
      expect(r.body).toContain('<ns1:MessageBody>order 42 &amp; more</ns1:MessageBody><ns1:Attribute><ns1:Name>prio</ns1:Name>');
    },
  },
  {
    slug: 'nasa-cdas', file: 'wsdl/nasa-cdas/CDASWS.wsdl', path: '/WS/jaxrpc', operation: 'getDatasets',
    document: '{ getDatasets(arrayOfString_1: ["ACE"], arrayOfString_2: ["Magnetic Fields (space)", "Plasma"]) { id label startTime links { url } } }',
    expected: {
      getDatasets: twice({ id: 'id-sample', label: 'label-sample', startTime: '2024-01-02T03:04:05Z', links: twice({ url: 'url-sample' }) }),
    },
    contentType: 'text/xml; charset=utf-8', soapAction: '""', envelope: SOAP11,
    body: { local: 'getDatasets', ns: 'http://cdaweb.gsfc.nasa.gov/WS/CDASWS' },
    check: (r) => {
      // rpc/encoded: unqualified part accessors, xsi:type, SOAP-encoded arrays.
      expect(r.body).toContain('soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"');
      expect(r.body).toContain('<arrayOfString_1 xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[1]"><item xsi:type="xsd:string">ACE</item></arrayOfString_1>');
      expect(r.body).toContain('soapenc:arrayType="xsd:string[2]"');
    },
  },
  {
    slug: 'workday-hr', file: 'wsdl/workday-hr/Human_Resources_Put_Location.wsdl', path: '/ccx/service/acme/Human_Resources/v36.2',
    operation: 'Put_Location',
    document: `mutation { putLocation(Add_Only: true, Location_Data: { Location_Name: "HQ", Latitude: "30.2672",
      Location_Usage_Reference: [{ ID: [{ value: "BUSINESS_SITE", type: "Location_Usage_ID" }] }] }) {
        Add_Only version Location_Data { Location_Name Latitude Location_Usage_Reference { ID { value type } } } } }`,
    expected: {
      putLocation: {
        Add_Only: true, version: 'version-sample',
        Location_Data: { Location_Name: 'Location_Name-sample', Latitude: '12.50', Location_Usage_Reference: twice({ ID: [{ value: 'value-sample', type: 'type-sample' }] }) },
      },
    },
    contentType: 'text/xml; charset=utf-8', soapAction: '""', envelope: SOAP11,
    body: { local: 'Put_Location_Request', ns: 'urn:com.workday/bsvc' },
    // simpleContent with an attribute: the value as text, the attribute as an attribute.
    check: (r) => expect(r.body).toContain('<ID type="Location_Usage_ID">BUSINESS_SITE</ID>'),
  },
  {
    slug: 'cybersource', file: 'wsdl/cybersource/CyberSourceTransaction_1.26.wsdl', path: '/commerce/1.x/transactionProcessor',
    operation: 'runTransaction',
    document: `mutation { runTransaction(merchantID: "acme", merchantReferenceCode: "order-42", ccAuthService: { run: "true" },
      item: [{ id: "0", unitPrice: "10.00" }]) { merchantReferenceCode requestID reasonCode ccAuthReply { reasonCode amount } reserved } }`,
    expected: {
      runTransaction: {
        merchantReferenceCode: 'merchantReferenceCode-sample', requestID: 'requestID-sample', reasonCode: '12345678901',
        ccAuthReply: { reasonCode: '12345678901', amount: 'amount-sample' }, reserved: { anything: 'any-sample' },
      },
    },
    contentType: 'text/xml; charset=utf-8', soapAction: '"runTransaction"', envelope: SOAP11,
    body: { local: 'requestMessage', ns: 'urn:schemas-cybersource-com:transaction-data-1.26' },
    check: (r) => expect(r.body).toContain('<ns1:ccAuthService run="true"></ns1:ccAuthService>'),
  },
];

/** Validates, then executes: a field on the wrong root type must fail, not silently vanish. */
async function run(schema: GraphQLSchema, document: string): Promise<ExecutionResult> {
  const parsed = parse(document);
  const errors = validate(schema, parsed);
  if (errors.length > 0) return { errors };
  return execute({ schema, document: parsed }) as Promise<ExecutionResult>;
}

function writeReport(slug: string, result: ConformanceResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `soap-${slug}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

describe.skipIf(!corpusPresent)('real-world WSDLs through Junction\'s SOAP handler', () => {
  let standIn: StandIn;

  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(async () => {
    await standIn?.close();
  });

  it('covers every WSDL of the corpus', () => {
    const found = readdirSync(corpusFile('wsdl'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(corpusFile('wsdl', d.name)).filter((f) => f.endsWith('.wsdl')).map((f) => `wsdl/${d.name}/${f}`));
    expect(found.sort()).toEqual(CASES.map((c) => c.file).sort());
  });

  for (const c of CASES) {
    it(`${c.slug}: builds a valid schema and runs ${c.operation} end to end`, async () => {
      const options = { name: c.slug, source: corpusFile(c.file), endpoint: `${standIn.url}${c.path}`, ...c.options };
      const source = await loadSoapSource(options);
      expect(validateSchema(source.schema)).toEqual([]);
      expect(source.exposedOperations).toBeGreaterThan(0);

      const model = await loadSoapModel(options);
      const operation = model.operations.find((op) => op.name === c.operation)!;
      standIn.reply = sampleReply(operation);
      const before = standIn.requests.length;
      const result = await run(source.schema, c.document);
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual(c.expected);

      expect(standIn.requests).toHaveLength(before + 1);
      const request = standIn.requests[before]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe(c.path);
      expect(request.contentType).toBe(c.contentType);
      expect(request.soapAction).toBe(c.soapAction);
      expect(request.envelopeNamespace).toBe(c.envelope);
      expect(request.bodyElement).toEqual(c.body);
      c.check?.(request);

      const action = request.soapAction ?? /action="([^"]*)"/.exec(request.contentType)?.[1] ?? '';
      writeReport(c.slug, {
        file: c.file, kind: 'soap', declaredOperations: source.declaredOperations, exposedOperations: source.exposedOperations,
        downgrades: source.downgrades, buildMs: source.buildMs,
        executed: { operation: c.operation, request: { method: request.method, path: request.path, contentType: request.contentType, soapAction: action } },
      });
      console.log(`soap ${c.slug.padEnd(15)} declared ${String(source.declaredOperations).padStart(3)}  exposed ${String(source.exposedOperations).padStart(3)}  downgrades ${String(source.downgrades.length).padStart(3)}  build ${source.buildMs} ms  ran ${c.operation}`);
    });
  }

  it('cybersource: the types come from the external XSD next to the WSDL, and a write-only schema still has a Query', async () => {
    const source = await loadSoapSource({ name: 'cybersource', source: corpusFile('wsdl/cybersource/CyberSourceTransaction_1.26.wsdl') });
    expect(source.schema.getType('ReplyMessage')).toBeDefined();
    expect(source.schema.getType('CCAuthServiceInput')).toBeDefined();
    expect((await run(source.schema, '{ _operations }')).data).toEqual({ _operations: ['runTransaction'] });
  });

  it('texas-geocoder: the HTTP GET/POST bindings are ignored with a downgrade each, and SOAP 1.1/1.2 ports give one field each', async () => {
    const source = await loadSoapSource({ name: 'texas', source: corpusFile('wsdl/texas-geocoder/TexasGeocoderService_V04_01.wsdl') });
    expect(source.downgrades.filter((d) => d.location.startsWith('wsdl:binding')).map((d) => d.location))
      .toEqual(['wsdl:binding GeocoderService_V04_01HttpGet', 'wsdl:binding GeocoderService_V04_01HttpPost']);
    expect([source.declaredOperations, source.exposedOperations]).toEqual([12, 4]);
  });
});

describe('the maps demo WSDL against the real demo backend (the soap npm package)', () => {
  const seed = createSeed();
  let backend: DemoBackend;

  beforeAll(async () => {
    backend = await startMapsBackend({ port: 0, seed });
  });
  afterAll(async () => {
    await backend?.close();
  });

  it('geocode returns the seed place', async () => {
    // The demo backend wants its account's WS-Security UsernameToken, as the curated maps client sends it.
    const security = { username: DEMO_CREDENTIALS.maps.username, password: DEMO_CREDENTIALS.maps.apiKey };
    const source = await loadSoapSource({ name: 'maps', source: 'sources/maps/service.wsdl', cwd: REPO_ROOT, endpoint: `${backend.url}/soap`, security });
    expect(validateSchema(source.schema)).toEqual([]);
    const place = seed.places[7]!;
    const result = await run(source.schema, `{ geocode(address: ${JSON.stringify(place.formattedAddress)}) { id name formattedAddress kind location { lat lng } } }`);
    expect(result.errors).toBeUndefined();
    expect((result.data?.geocode as unknown[])[0]).toEqual(place);

    const batch = await run(source.schema, `{ geocodeBatch(address: [${JSON.stringify(place.formattedAddress)}, "nowhere at all"]) { query place { id } } }`);
    expect(batch.data?.geocodeBatch).toEqual([{ query: place.formattedAddress, place: [{ id: place.id }] }, { query: 'nowhere at all', place: [] }]);
  });
});
