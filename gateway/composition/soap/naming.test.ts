import { describe, expect, it } from 'vitest';
import { NameScope, enumValueNames, fieldName, rootFieldNames, rootTypeOf, sanitizeName, typeName } from './naming.ts';

describe('SOAP naming', () => {
  it('turns operation names into lowerCamelCase root fields', () => {
    expect(fieldName('ListOfContinentsByName')).toBe('listOfContinentsByName');
    expect(fieldName('Add')).toBe('add');
    expect(fieldName('CCAuthService')).toBe('ccAuthService');
    expect(fieldName('FXRates')).toBe('fxRates');
    expect(fieldName('Put_Location')).toBe('putLocation');
    expect(fieldName('getAllInstruments')).toBe('getAllInstruments');
    expect(fieldName('ADD')).toBe('add');
  });

  it('keeps XSD type names in PascalCase with invalid characters replaced', () => {
    expect(typeName('tCountryInfo')).toBe('TCountryInfo');
    expect(typeName('Put_Location_RequestType')).toBe('Put_Location_RequestType');
    expect(typeName('my-type.v2')).toBe('My_type_v2');
    expect(typeName('1st')).toBe('_1st');
    expect(sanitizeName('__schema')).toBe('_schema');
  });

  it('maps enum values reversibly: invalid names sanitised, originals kept, collisions suffixed', () => {
    expect(enumValueNames(['in-progress', 'in_progress', '', 'true', '1', 'a b', 'in-progress'])).toEqual([
      { name: 'in_progress', value: 'in-progress' },
      { name: 'in_progress2', value: 'in_progress' },
      { name: 'EMPTY', value: '' },
      { name: 'true_', value: 'true' },
      { name: '_1', value: '1' },
      { name: 'a_b', value: 'a b' },
    ]);
  });

  it('gives unique names within a scope', () => {
    const scope = new NameScope(['Query']);
    expect(scope.claim('Query')).toBe('Query2');
    expect(scope.claim('Item')).toBe('Item');
    expect(scope.claim('Item')).toBe('Item2');
    expect(scope.claim('Item2')).toBe('Item2_2');
  });

  it('splits Query and Mutation by operation-name prefix, with overrides', () => {
    expect(rootTypeOf('GetPlace', {})).toBe('Query');
    expect(rootTypeOf('ListOfContinentsByName', {})).toBe('Query');
    expect(rootTypeOf('CapitalCity', {})).toBe('Query');
    expect(rootTypeOf('Geocode', {})).toBe('Query');
    expect(rootTypeOf('runTransaction', {})).toBe('Mutation');
    expect(rootTypeOf('SendMessage', {})).toBe('Mutation');
    expect(rootTypeOf('runTransaction', { queries: ['runTransaction'] })).toBe('Query');
    expect(rootTypeOf('GetTicket', { mutations: ['GetTicket'] })).toBe('Mutation');
  });

  it('prefixes root fields with the port type only when two port types share an operation name', () => {
    expect(rootFieldNames([
      { portType: 'QueueService', name: 'Create' },
      { portType: 'MessageQueue', name: 'Create' },
      { portType: 'MessageQueue', name: 'Send' },
      { portType: 'X', name: '_operations' },
    ])).toEqual(['queueService_create', 'messageQueue_create', 'send', 'operations']);
  });
});
