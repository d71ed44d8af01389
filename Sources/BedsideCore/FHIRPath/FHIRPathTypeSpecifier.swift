/// A type name as written after `is`/`as` or in `ofType()`: `Coding`, `FHIR.Quantity`, `System.Integer`.
///
/// Without a FHIR model, a primitive knows only its System type, so an unqualified name matches a
/// value of either namespace: `integer` and `Integer` both match an integer answer, `string` and
/// `code` both match a string. Complex types match by the type an element was reached as.
struct FHIRPathTypeSpecifier: Sendable, Equatable, CustomStringConvertible {
    enum Namespace: String, Sendable { case system = "System", fhir = "FHIR" }

    let namespace: Namespace?
    let name: String

    var description: String { namespace.map { "\($0.rawValue).\(name)" } ?? name }

    /// From the identifiers of a qualified name, `["FHIR", "Coding"]`; `nil` if it is not a type name.
    init?(_ parts: [String]) {
        switch parts.count {
        case 1:
            namespace = nil
            name = parts[0]
        case 2:
            guard let namespace = Namespace(rawValue: parts[0]) else { return nil }
            self.namespace = namespace
            name = parts[1]
        default:
            return nil
        }
    }

    func matches(_ value: FHIRPathValue) -> Bool {
        if case .element(let element) = value { return namespace != .system && matches(element) }
        if namespace != .fhir, value.typeName == name { return true }
        return namespace != .system && fhirNames(of: value).contains(name)
    }

    private func matches(_ element: FHIRPathElement) -> Bool {
        guard let type = element.typeName else { return false }
        if type == name { return true }
        switch name {
        case "Quantity": return FHIRPathChoiceType.quantityTypes.contains(type)
        case "Resource", "DomainResource": return element.isResource
        default: return false
        }
    }

    private func fhirNames(of value: FHIRPathValue) -> Set<String> {
        switch value {
        case .boolean: ["boolean"]
        case .integer(let integer):
            integer > 0 ? FHIRPathChoiceType.integerTypes : FHIRPathChoiceType.integerTypes.subtracting(integer == 0 ? ["positiveInt"] : ["positiveInt", "unsignedInt"])
        case .decimal: ["decimal"]
        case .string: FHIRPathChoiceType.stringTypes
        case .date: ["date"]
        case .dateTime: ["dateTime", "instant"]
        case .time: ["time"]
        case .quantity: ["Quantity"]
        case .element: []
        }
    }
}
