public import SwiftProtobuf

extension JSONValue {
  /// From a `google.protobuf.Value`.
  public init(_ value: Google_Protobuf_Value) {
    switch value.kind {
    case .nullValue, nil: self = .null
    case .numberValue(let number): self = .number(number)
    case .stringValue(let string): self = .string(string)
    case .boolValue(let bool): self = .bool(bool)
    case .structValue(let object): self = JSONValue(object)
    case .listValue(let list): self = .array(list.values.map(JSONValue.init))
    }
  }

  /// From a `google.protobuf.Struct`.
  public init(_ object: Google_Protobuf_Struct) {
    self = .object(object.fields.mapValues(JSONValue.init))
  }

  /// As a `google.protobuf.Value`.
  public var protobufValue: Google_Protobuf_Value {
    switch self {
    case .null: Google_Protobuf_Value(nilLiteral: ())
    case .bool(let value): Google_Protobuf_Value(boolValue: value)
    case .number(let value): Google_Protobuf_Value(numberValue: value)
    case .string(let value): Google_Protobuf_Value(stringValue: value)
    case .array(let values): Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: values.map(\.protobufValue)))
    case .object: Google_Protobuf_Value(structValue: self.protobufStruct)
    }
  }

  /// As a `google.protobuf.Struct` (empty for non-objects).
  public var protobufStruct: Google_Protobuf_Struct {
    guard case .object(let members) = self else { return Google_Protobuf_Struct() }
    return Google_Protobuf_Struct(fields: members.mapValues(\.protobufValue))
  }
}
