/// `toBoolean() toInteger() toDecimal() toString() toDate() toDateTime() toTime() toQuantity()` and
/// their `convertsTo…()` counterparts, on a single input item.
extension FHIRPathEvaluator {
    func conversion(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let item = try singleInput(call) else { return [] }
        let converted: FHIRPathValue?
        switch call.function {
        case .toBoolean, .convertsToBoolean: converted = FHIRPathConversion.toBoolean(item)
        case .toInteger, .convertsToInteger: converted = FHIRPathConversion.toInteger(item)
        case .toDecimal, .convertsToDecimal: converted = FHIRPathConversion.toDecimal(item)
        case .toString, .convertsToString: converted = FHIRPathConversion.toString(item)
        case .toDate, .convertsToDate: converted = FHIRPathConversion.toDate(item)
        case .toDateTime, .convertsToDateTime: converted = FHIRPathConversion.toDateTime(item)
        case .toTime, .convertsToTime: converted = FHIRPathConversion.toTime(item)
        default: converted = FHIRPathConversion.toQuantity(item, unit: try stringArgument(0, of: call))
        }
        switch call.function {
        case .convertsToBoolean, .convertsToInteger, .convertsToDecimal, .convertsToString, .convertsToDate, .convertsToDateTime,
            .convertsToTime, .convertsToQuantity:
            return [.boolean(converted != nil)]
        default:
            return converted.map { [$0] } ?? []
        }
    }
}
