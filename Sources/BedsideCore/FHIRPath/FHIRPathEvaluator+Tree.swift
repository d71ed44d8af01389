/// `children() descendants()` and FHIR's `extension(url)` and `hasValue()`.
extension FHIRPathEvaluator {
    func tree(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        switch call.function {
        case .children:
            return call.input.flatMap { $0.elementValue?.allChildren() ?? [] }
        case .descendants:
            // repeat(children()): every level below the input, breadth first.
            return try repeated(call.input, at: call.position) { (item, _) throws(FHIRPathError) in item.elementValue?.allChildren() ?? [] }
        case .extension:
            guard let url = try stringArgument(0, of: call) else { return [] }
            return call.input.flatMap { item in
                (item.elementValue?.children(named: "extension") ?? []).filter { $0.elementValue?.json["url"]?.stringValue == url }
            }
        default:  // hasValue
            return [.boolean(call.input.count == 1 && call.input[0].isPrimitive)]
        }
    }
}
