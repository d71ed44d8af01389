/// `single() first() last() tail() skip() take() intersect() exclude() union() combine()`.
extension FHIRPathEvaluator {
    func subsetting(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        let input = call.input
        switch call.function {
        case .single:
            return try singleInput(call).map { [$0] } ?? []
        case .first:
            return input.first.map { [$0] } ?? []
        case .last:
            return input.last.map { [$0] } ?? []
        case .tail:
            return Array(input.dropFirst())
        case .skip:
            guard let count = try integerArgument(0, of: call) else { return input }
            return Array(input.dropFirst(max(0, count)))
        case .take:
            guard let count = try integerArgument(0, of: call) else { return [] }
            return Array(input.prefix(max(0, count)))
        case .intersect:
            let other = try argument(0, of: call) ?? []
            let common = input.filter { FHIRPathEquality.collection(other, contains: $0, defaultOffset: defaultOffset) }
            return FHIRPathEquality.distinct(common, defaultOffset: defaultOffset)
        case .exclude:
            let other = try argument(0, of: call) ?? []
            return input.filter { !FHIRPathEquality.collection(other, contains: $0, defaultOffset: defaultOffset) }
        case .union:
            return FHIRPathEquality.distinct(input + (try argument(0, of: call) ?? []), defaultOffset: defaultOffset)
        default:  // combine
            return input + (try argument(0, of: call) ?? [])
        }
    }
}
