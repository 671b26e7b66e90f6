import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MAPS_WSDL_URL } from '../../sources/maps/backend/backend.ts';
import { MAPS_OPERATIONS } from '../../sources/maps/contract.ts';
import { loadSourceSchemas } from '../../gateway/composition/source-schemas.ts';

/** service.wsdl as a document: documented throughout, and buildable by GraphQL Mesh's SOAP loader. */
const wsdl = readFileSync(MAPS_WSDL_URL, 'utf8');

describe('service.wsdl', () => {
  it('documents every complex type and every element', () => {
    expect(wsdl).not.toMatch(/<xsd:element[^>]*\/>/);
    const elements = wsdl.match(/<xsd:element\b/g) ?? [];
    const documented = wsdl.match(/<xsd:element\b[^>]*>\s*<xsd:annotation>\s*<xsd:documentation>[^<]+</g) ?? [];
    expect(documented.length).toBe(elements.length);
    const namedTypes = wsdl.match(/<xsd:complexType name=/g) ?? [];
    const documentedTypes = wsdl.match(/<xsd:complexType name="[^"]+">\s*<xsd:annotation>\s*<xsd:documentation>[^<]+</g) ?? [];
    expect(documentedTypes.length).toBe(namedTypes.length);
  });

  it('documents the service and every port-type operation', () => {
    expect(wsdl).toMatch(/<wsdl:service name="MapsService">\s*<wsdl:documentation>[^<]*SOAP 1\.1 document\/literal/);
    for (const op of MAPS_OPERATIONS) expect(wsdl).toMatch(new RegExp(`<wsdl:operation name="${op}">\\s*<wsdl:documentation>[^<]+<`));
    // mesh build (with Junction's SOAP handler) carries it into the schema the gateway documents itself from.
    const place = loadSourceSchemas(['maps']).get('maps')!.getType('Place') as import('graphql').GraphQLObjectType;
    expect(place.getFields().formattedAddress!.description).toContain('One-line postal address');
  });

  it('keeps to what GraphQL Mesh\'s SOAP handler supports', () => {
    const types = new Set([...wsdl.matchAll(/<xsd:element[^>]*\btype="([^"]+)"/g)].map((m) => m[1]));
    expect(types).toContain('xsd:double');
    expect([...types].filter((t) => !/^(tns:(GeoPoint|Place|GeocodeResult)|xsd:(string|double|int|boolean|dateTime))$/.test(t ?? ''))).toEqual([]);
    expect(wsdl).not.toMatch(/\bref=|<xsd:list|urn:|soap12/);
    expect(wsdl).toMatch(/<xsd:schema targetNamespace="http:\/\/junction\.dev\/maps\/v1" elementFormDefault="qualified">/);
    expect(wsdl.match(/<wsdl:part /g)).toHaveLength(MAPS_OPERATIONS.length * 2);
  });

  it('builds with Junction\'s SOAP handler through mesh build (npm run build:mesh), one root field per operation', () => {
    const schema = loadSourceSchemas(['maps']).get('maps')!;
    const fields = [
      ...Object.keys(schema.getQueryType()?.getFields() ?? {}),
      ...Object.keys(schema.getMutationType()?.getFields() ?? {}),
    ].sort();
    expect(fields).toEqual(MAPS_OPERATIONS.map((op) => op[0]!.toLowerCase() + op.slice(1)).sort());
    expect(printSchema(schema)).toContain('type Place {');
  });
});
