/// How big a JSON document from outside may be in shape, not only in bytes.
///
/// A 1 MiB body can hold 100,000 members in one object or nesting a hundred levels deep; every step
/// after parsing (validation, indexing, stamping, serialising, the alert rules) walks the document, so
/// the shape is bounded once, right after parsing, with a message that says which limit and where.
public struct JSONLimits: Sendable, Equatable {
    /// Levels of objects and arrays inside each other.
    public var maximumDepth: Int
    /// Members of any one object.
    public var maximumMembers: Int
    /// Elements of any one array.
    public var maximumElements: Int
    /// Values in the whole document (every object, array, string, number, boolean and null).
    public var maximumValues: Int

    public init(maximumDepth: Int, maximumMembers: Int, maximumElements: Int, maximumValues: Int) {
        self.maximumDepth = maximumDepth
        self.maximumMembers = maximumMembers
        self.maximumElements = maximumElements
        self.maximumValues = maximumValues
    }

    /// For one FHIR resource or Bundle: generous for real ones (the largest questionnaire in the
    /// fixtures has about 3,500 values, 19 levels, 20 members per object and 70 elements per array), small for an attack.
    public static let resource = JSONLimits(maximumDepth: 48, maximumMembers: 200, maximumElements: 5_000, maximumValues: 100_000)

    /// The first limit `value` exceeds, with where; nil when it is within all of them.
    public func violation(in value: JSONValue) -> JSONLimitViolation? {
        var values = 0
        return check(value, depth: 1, path: "", values: &values)
    }

    private func check(_ value: JSONValue, depth: Int, path: @autoclosure () -> String, values: inout Int) -> JSONLimitViolation? {
        values += 1
        if values > maximumValues {
            return JSONLimitViolation(limit: .values, maximum: maximumValues, path: path())
        }
        switch value {
        case .object(let object):
            guard depth <= maximumDepth else { return JSONLimitViolation(limit: .depth, maximum: maximumDepth, path: path()) }
            guard object.count <= maximumMembers else { return JSONLimitViolation(limit: .members, maximum: maximumMembers, path: path()) }
            for member in object {
                if let violation = check(member.value, depth: depth + 1, path: Self.join(path(), member.key), values: &values) {
                    return violation
                }
            }
        case .array(let elements):
            guard depth <= maximumDepth else { return JSONLimitViolation(limit: .depth, maximum: maximumDepth, path: path()) }
            guard elements.count <= maximumElements else {
                return JSONLimitViolation(limit: .elements, maximum: maximumElements, path: path())
            }
            for (index, element) in elements.enumerated() {
                if let violation = check(element, depth: depth + 1, path: "\(path())[\(index)]", values: &values) { return violation }
            }
        default:
            break
        }
        return nil
    }

    private static func join(_ path: String, _ key: String) -> String {
        // A hostile member name could be a megabyte long; the message needs only its start.
        let shown = key.count > 40 ? String(key.prefix(40)) + "…" : key
        return path.isEmpty ? shown : path + "." + shown
    }
}

/// Which limit a document exceeds, and where (a FHIRPath-like path; empty for the root).
public struct JSONLimitViolation: Sendable, Equatable, CustomStringConvertible {
    public enum Limit: String, Sendable {
        case depth, members, elements, values
    }

    public var limit: Limit
    public var maximum: Int
    public var path: String

    public var description: String {
        let place = path.isEmpty ? "the document" : path
        switch limit {
        case .depth: return "\(place) is nested deeper than \(maximum) levels"
        case .members: return "\(place) has more than \(maximum) members"
        case .elements: return "\(place) has more than \(maximum) elements"
        case .values: return "the document holds more than \(maximum) values (the limit was reached at \(place))"
        }
    }
}
