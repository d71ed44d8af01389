/// One item of a FHIRPath collection: a System primitive, or an element of the JSON being navigated.
///
/// Every expression evaluates to a collection, `[FHIRPathValue]`; the empty collection stands for
/// "no value" (FHIRPath has no null).
public enum FHIRPathValue: Sendable, Equatable {
    case boolean(Bool)
    case integer(Int)
    case decimal(FHIRPathDecimal)
    case string(String)
    case date(FHIRPathDateTime)
    case dateTime(FHIRPathDateTime)
    case time(FHIRPathTime)
    case quantity(FHIRPathQuantity)
    /// A complex value (a resource, a Coding, an answer …) as JSON, with what is known of where it came from.
    case element(FHIRPathElement)

    /// The System type name, or the FHIR type of an element when known, for messages.
    public var typeName: String {
        switch self {
        case .boolean: "Boolean"
        case .integer: "Integer"
        case .decimal: "Decimal"
        case .string: "String"
        case .date: "Date"
        case .dateTime: "DateTime"
        case .time: "Time"
        case .quantity: "Quantity"
        case .element(let element): element.typeName ?? "an element"
        }
    }

    /// An Integer or Decimal as a decimal; `nil` for anything else.
    public var decimalValue: FHIRPathDecimal? {
        switch self {
        case .integer(let value): FHIRPathDecimal(value)
        case .decimal(let value): value
        default: nil
        }
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var elementValue: FHIRPathElement? {
        if case .element(let element) = self { return element }
        return nil
    }

    /// A System Quantity, or a FHIR Quantity element (Quantity, Age, Duration …) read as one.
    public var quantityValue: FHIRPathQuantity? {
        switch self {
        case .quantity(let quantity): quantity
        case .element(let element): FHIRPathQuantity(element)
        default: nil
        }
    }

    /// Whether this is a primitive (everything but an element).
    var isPrimitive: Bool {
        if case .element = self { return false }
        return true
    }
}
