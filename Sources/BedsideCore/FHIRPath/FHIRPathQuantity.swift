/// A FHIRPath Quantity: a decimal and a unit, either a UCUM code (`'kg'`, `'mm[Hg]'`) or a calendar
/// duration (`3 days`, kept as the singular word `day`).
public struct FHIRPathQuantity: Sendable, Equatable, CustomStringConvertible {
    public let value: FHIRPathDecimal
    public let unit: String

    public init(value: FHIRPathDecimal, unit: String) {
        self.value = value
        self.unit = FHIRPathUnits.calendarUnit(unit)?.rawValue ?? unit
    }

    /// A FHIR Quantity element (Quantity, Age, Duration …): its UCUM `code` when it has one, else its `unit`.
    init?(_ element: FHIRPathElement) {
        guard let type = element.typeName, FHIRPathChoiceType.quantityTypes.contains(type),
            case .number(let literal)? = element.json["value"], let value = FHIRPathDecimal(literal)
        else { return nil }
        let system = element.json["system"]?.stringValue
        let code = element.json["code"]?.stringValue
        if let code, system == nil || system == FHIRPathUnits.ucumSystem {
            self.init(value: value, unit: code)
        } else {
            self.init(value: value, unit: element.json["unit"]?.stringValue ?? code ?? "1")
        }
    }

    /// Whether the unit is a calendar duration word rather than a UCUM code.
    public var isCalendarDuration: Bool { FHIRPathUnits.CalendarUnit(rawValue: unit) != nil }

    /// `5 'kg'`, or `3 days` for calendar durations.
    public var description: String {
        guard let calendar = FHIRPathUnits.CalendarUnit(rawValue: unit) else { return "\(value) '\(unit)'" }
        return "\(value) \(value == FHIRPathDecimal(1) ? calendar.rawValue : calendar.rawValue + "s")"
    }

    /// The same amount in `unit`, when the two units measure the same thing.
    public func converted(to unit: String) -> FHIRPathQuantity? {
        let target = FHIRPathUnits.calendarUnit(unit)?.rawValue ?? unit
        guard let value = FHIRPathUnits.convert(value, from: self.unit, to: target) else { return nil }
        return FHIRPathQuantity(value: value, unit: target)
    }

    /// The FHIR Quantity JSON for this value.
    public var json: JSONValue {
        var object: JSONObject = ["value": .number(value.description)]
        if let calendar = FHIRPathUnits.CalendarUnit(rawValue: unit) {
            object["unit"] = .string(calendar.rawValue)
            object["system"] = .string(FHIRPathUnits.ucumSystem)
            object["code"] = .string(calendar.ucumCode)
        } else {
            object["unit"] = .string(unit)
            object["system"] = .string(FHIRPathUnits.ucumSystem)
            object["code"] = .string(unit)
        }
        return .object(object)
    }
}
