/**
 * Small inline WSDLs for the unit tests, each exercising a family of features.
 */
import { wsdl } from './test-kit.ts';

/** Shared types in their own namespace, imported from the shop WSDL by a relative schemaLocation. */
export const COMMON_XSD = `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:c="urn:example:common" targetNamespace="urn:example:common" elementFormDefault="qualified">
  <xs:complexType name="tAddress">
    <xs:annotation><xs:documentation>A postal address.</xs:documentation></xs:annotation>
    <xs:sequence>
      <xs:element name="street" type="xs:string"/>
      <xs:element name="city" type="xs:string" minOccurs="0"/>
    </xs:sequence>
  </xs:complexType>
  <xs:simpleType name="Status">
    <xs:restriction base="xs:string">
      <xs:enumeration value="in-progress"><xs:annotation><xs:documentation>Being worked on.</xs:documentation></xs:annotation></xs:enumeration>
      <xs:enumeration value="in_progress"/>
      <xs:enumeration value="done"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="Tags"><xs:list itemType="xs:string"/></xs:simpleType>
  <xs:complexType name="Money">
    <xs:simpleContent>
      <xs:extension base="xs:decimal">
        <xs:attribute name="currency" type="xs:string" use="required"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:complexType name="ArrayOfAddress">
    <xs:sequence>
      <xs:element name="address" type="c:tAddress" minOccurs="0" maxOccurs="unbounded" nillable="true"/>
    </xs:sequence>
  </xs:complexType>
</xs:schema>`;

const SHOP_TYPES = `
<xsd:schema targetNamespace="urn:example:shop" elementFormDefault="qualified" xmlns:c="urn:example:common">
  <xsd:import namespace="urn:example:common" schemaLocation="types/common.xsd"/>
  <xsd:complexType name="Party">
    <xsd:sequence>
      <xsd:element name="name" type="xsd:string"/>
      <xsd:element name="address" type="c:tAddress" minOccurs="0"/>
    </xsd:sequence>
    <xsd:attribute name="id" type="xsd:int"/>
  </xsd:complexType>
  <xsd:complexType name="customer-record">
    <xsd:annotation><xsd:documentation>A customer of the shop.</xsd:documentation></xsd:annotation>
    <xsd:complexContent>
      <xsd:extension base="tns:Party">
        <xsd:sequence>
          <xsd:element name="email" type="xsd:string" minOccurs="0">
            <xsd:annotation><xsd:documentation>Where receipts go.</xsd:documentation></xsd:annotation>
          </xsd:element>
          <xsd:element name="status" type="c:Status"/>
          <xsd:element name="tags" type="c:Tags" minOccurs="0"/>
          <xsd:element name="addresses" type="c:ArrayOfAddress" minOccurs="0"/>
          <xsd:element name="balance" type="c:Money" minOccurs="0"/>
          <xsd:element name="extra" type="xsd:anyType" minOccurs="0"/>
          <xsd:element name="visits" type="xsd:long" minOccurs="0"/>
          <xsd:element name="referrer" type="tns:customer-record" minOccurs="0"/>
          <xsd:element ref="tns:note" minOccurs="0" maxOccurs="unbounded"/>
          <xsd:choice>
            <xsd:element name="phone" type="xsd:string"/>
            <xsd:element name="fax" type="xsd:string"/>
          </xsd:choice>
        </xsd:sequence>
      </xsd:extension>
    </xsd:complexContent>
  </xsd:complexType>
  <xsd:element name="note" type="xsd:string"/>
  <xsd:element name="GetCustomer">
    <xsd:complexType><xsd:sequence><xsd:element name="id" type="xsd:int"/></xsd:sequence></xsd:complexType>
  </xsd:element>
  <xsd:element name="GetCustomerResponse">
    <xsd:complexType><xsd:sequence><xsd:element name="customer" type="tns:customer-record" minOccurs="0"/></xsd:sequence></xsd:complexType>
  </xsd:element>
  <xsd:element name="ListCustomers"><xsd:complexType><xsd:sequence/></xsd:complexType></xsd:element>
  <xsd:element name="ListCustomersResponse">
    <xsd:complexType><xsd:sequence><xsd:element name="customer" type="tns:customer-record" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
  </xsd:element>
  <xsd:element name="UpdateStatus">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:element name="id" type="xsd:int"/>
        <xsd:element name="status" type="c:Status"/>
        <xsd:element name="tags" type="c:Tags" minOccurs="0"/>
        <xsd:element name="addresses" type="c:ArrayOfAddress" minOccurs="0"/>
        <xsd:element name="balance" type="c:Money" minOccurs="0"/>
        <xsd:element name="customer" type="tns:customer-record" minOccurs="0"/>
      </xsd:sequence>
      <xsd:attribute name="dryRun" type="xsd:boolean"/>
    </xsd:complexType>
  </xsd:element>
  <xsd:element name="UpdateStatusResponse">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:element name="ok" type="xsd:boolean"/>
        <xsd:element name="previous">
          <xsd:simpleType><xsd:restriction base="xsd:string"><xsd:enumeration value="new"/><xsd:enumeration value="old-style"/></xsd:restriction></xsd:simpleType>
        </xsd:element>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
</xsd:schema>`;

const SHOP_REST = `
  <wsdl:message name="GetCustomerIn"><wsdl:part name="parameters" element="tns:GetCustomer"/></wsdl:message>
  <wsdl:message name="GetCustomerOut"><wsdl:part name="parameters" element="tns:GetCustomerResponse"/></wsdl:message>
  <wsdl:message name="ListCustomersIn"><wsdl:part name="parameters" element="tns:ListCustomers"/></wsdl:message>
  <wsdl:message name="ListCustomersOut"><wsdl:part name="parameters" element="tns:ListCustomersResponse"/></wsdl:message>
  <wsdl:message name="UpdateStatusIn"><wsdl:part name="parameters" element="tns:UpdateStatus"/></wsdl:message>
  <wsdl:message name="UpdateStatusOut"><wsdl:part name="parameters" element="tns:UpdateStatusResponse"/></wsdl:message>
  <wsdl:message name="PingIn"/>
  <wsdl:message name="PingOut"/>
  <wsdl:message name="GetCustomerHttpIn"><wsdl:part name="id" type="xsd:string"/></wsdl:message>
  <wsdl:portType name="ShopSoap">
    <wsdl:documentation>The shop's customer operations.</wsdl:documentation>
    <wsdl:operation name="GetCustomer">
      <wsdl:documentation>Finds one customer by id.</wsdl:documentation>
      <wsdl:input message="tns:GetCustomerIn"/><wsdl:output message="tns:GetCustomerOut"/>
    </wsdl:operation>
    <wsdl:operation name="ListCustomers"><wsdl:input message="tns:ListCustomersIn"/><wsdl:output message="tns:ListCustomersOut"/></wsdl:operation>
    <wsdl:operation name="UpdateStatus"><wsdl:input message="tns:UpdateStatusIn"/><wsdl:output message="tns:UpdateStatusOut"/></wsdl:operation>
    <wsdl:operation name="Ping"><wsdl:input message="tns:PingIn"/><wsdl:output message="tns:PingOut"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:portType name="ShopHttpGet">
    <wsdl:operation name="GetCustomer"><wsdl:input message="tns:GetCustomerHttpIn"/><wsdl:output message="tns:GetCustomerOut"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="ShopSoap11" type="tns:ShopSoap">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="GetCustomer"><soap:operation soapAction="urn:example:shop/GetCustomer"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="ListCustomers"><soap:operation soapAction=""/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="UpdateStatus"><soap:operation soapAction="urn:example:shop/UpdateStatus"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="Ping"><soap:operation soapAction="urn:example:shop/Ping"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="ShopSoap12" type="tns:ShopSoap">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="GetCustomer"><soap12:operation soapAction="urn:example:shop/GetCustomer12"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="ListCustomers"><soap12:operation soapAction=""/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="UpdateStatus"><soap12:operation soapAction="urn:example:shop/UpdateStatus"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
    <wsdl:operation name="Ping"><soap12:operation soapAction="urn:example:shop/Ping"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation>
  </wsdl:binding>
  <wsdl:binding name="ShopHttpGet" type="tns:ShopHttpGet">
    <http:binding verb="GET"/>
    <wsdl:operation name="GetCustomer"><http:operation location="/GetCustomer"/>
      <wsdl:input><http:urlEncoded/></wsdl:input><wsdl:output/></wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Shop">
    <wsdl:port name="ShopSoap11" binding="tns:ShopSoap11"><soap:address location="http://shop.example/soap"/></wsdl:port>
    <wsdl:port name="ShopSoap12" binding="tns:ShopSoap12"><soap12:address location="http://shop.example/soap12"/></wsdl:port>
    <wsdl:port name="ShopHttpGet" binding="tns:ShopHttpGet"><http:address location="http://shop.example/http"/></wsdl:port>
  </wsdl:service>`;

export const SHOP_FILES = {
  'shop.wsdl': wsdl('urn:example:shop', SHOP_TYPES, SHOP_REST),
  'types/common.xsd': COMMON_XSD,
};

/** rpc/encoded in the JAX-RPC style of NASA CDAS: unprefixed WSDL elements, SOAP-encoded arrays. */
export const RPC_WSDL = `<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="urn:example:rpc" xmlns:t="urn:example:rpc:types"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" name="Catalog" targetNamespace="urn:example:rpc">
  <types>
    <schema xmlns="http://www.w3.org/2001/XMLSchema" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" targetNamespace="urn:example:rpc:types">
      <import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>
      <complexType name="ArrayOfstring">
        <complexContent><restriction base="enc:Array"><attribute ref="enc:arrayType" wsdl:arrayType="string[]"/></restriction></complexContent>
      </complexType>
      <complexType name="Item">
        <sequence><element name="name" type="string"/><element name="size" type="long"/><element name="tags" type="t:ArrayOfstring"/></sequence>
      </complexType>
      <complexType name="ArrayOfItem">
        <complexContent><restriction base="enc:Array"><attribute ref="enc:arrayType" wsdl:arrayType="t:Item[]"/></restriction></complexContent>
      </complexType>
    </schema>
  </types>
  <message name="findItems"><part name="names" type="t:ArrayOfstring"/><part name="limit" type="xsd:int"/></message>
  <message name="findItemsResponse"><part name="result" type="t:ArrayOfItem"/></message>
  <message name="reset"/>
  <message name="resetResponse"/>
  <portType name="Catalog">
    <operation name="findItems" parameterOrder="names limit"><input message="tns:findItems"/><output message="tns:findItemsResponse"/></operation>
    <operation name="reset"><input message="tns:reset"/><output message="tns:resetResponse"/></operation>
  </portType>
  <binding name="CatalogBinding" type="tns:Catalog">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="rpc"/>
    <operation name="findItems"><soap:operation soapAction=""/>
      <input><soap:body use="encoded" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" namespace="urn:example:rpc:ops"/></input>
      <output><soap:body use="encoded" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" namespace="urn:example:rpc:ops"/></output></operation>
    <operation name="reset"><soap:operation soapAction=""/>
      <input><soap:body use="encoded" namespace="urn:example:rpc:ops"/></input><output><soap:body use="encoded" namespace="urn:example:rpc:ops"/></output></operation>
  </binding>
  <service name="Catalog"><port name="CatalogPort" binding="tns:CatalogBinding"><soap:address location="http://catalog.example/rpc"/></port></service>
</definitions>`;

/** Writes only, SOAP 1.2 only, two port types sharing an operation name, a schema without attributes. */
export const WRITES_WSDL = wsdl('urn:example:writes', `
  <xsd:schema>
    <xsd:import namespace="urn:example:writes:data"/>
  </xsd:schema>
  <xsd:schema targetNamespace="urn:example:writes:data" xmlns:d="urn:example:writes:data">
    <xsd:element name="Order"><xsd:complexType><xsd:sequence><xsd:element name="sku" type="xsd:token"/></xsd:sequence></xsd:complexType></xsd:element>
    <xsd:element name="Receipt"><xsd:complexType><xsd:sequence><xsd:element name="number" type="xsd:unsignedLong"/></xsd:sequence></xsd:complexType></xsd:element>
  </xsd:schema>`, `
  <wsdl:message name="In"><wsdl:part name="order" element="d:Order" xmlns:d="urn:example:writes:data"/></wsdl:message>
  <wsdl:message name="Out"><wsdl:part name="receipt" element="d:Receipt" xmlns:d="urn:example:writes:data"/></wsdl:message>
  <wsdl:portType name="Retail"><wsdl:operation name="SubmitOrder"><wsdl:input message="tns:In"/><wsdl:output message="tns:Out"/></wsdl:operation></wsdl:portType>
  <wsdl:portType name="Wholesale"><wsdl:operation name="SubmitOrder"><wsdl:input message="tns:In"/><wsdl:output message="tns:Out"/></wsdl:operation></wsdl:portType>
  <wsdl:binding name="RetailBinding" type="tns:Retail"><soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="SubmitOrder"><soap12:operation soapAction="urn:submit"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>
  <wsdl:binding name="WholesaleBinding" type="tns:Wholesale"><soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="SubmitOrder"><soap12:operation soapAction="urn:submit-bulk"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>
  <wsdl:service name="S">
    <wsdl:port name="R" binding="tns:RetailBinding"><soap12:address location="http://writes.example/retail"/></wsdl:port>
    <wsdl:port name="W" binding="tns:WholesaleBinding"><soap12:address location="http://writes.example/wholesale"/></wsdl:port>
  </wsdl:service>`);
