/// The codes a ValueSet offers as answers, read without a terminology server: its `expansion.contains`
/// (nested entries included) when the server expanded it, else the concepts its `compose.include`
/// lists explicitly. A value set defined only by filters or by other value sets cannot be listed here.
public enum ValueSetCodes {
    public static func codings(of valueSet: JSONValue) -> [AnswerValue.Coding]? {
        if let contains = valueSet["expansion"]?["contains"]?.arrayValue {
            var codings: [AnswerValue.Coding] = []
            collect(contains, into: &codings)
            if !codings.isEmpty { return codings }
        }
        var codings: [AnswerValue.Coding] = []
        for include in valueSet["compose"]?["include"]?.arrayValue ?? [] {
            // A filter or a whole system cannot be listed without the code system itself.
            guard include["filter"] == nil, include["valueSet"] == nil, let concepts = include["concept"]?.arrayValue else { return nil }
            let system = include["system"]?.stringValue
            for concept in concepts {
                guard let code = concept["code"]?.stringValue else { continue }
                codings.append(AnswerValue.Coding(system: system, code: code, display: concept["display"]?.stringValue))
            }
        }
        return codings.isEmpty ? nil : codings
    }

    private static func collect(_ contains: [JSONValue], into codings: inout [AnswerValue.Coding]) {
        for entry in contains {
            // Abstract entries group others and cannot be chosen.
            if let code = entry["code"]?.stringValue, entry["abstract"]?.boolValue != true {
                codings.append(AnswerValue.Coding(system: entry["system"]?.stringValue, code: code, display: entry["display"]?.stringValue))
            }
            collect(entry["contains"]?.arrayValue ?? [], into: &codings)
        }
    }
}

extension Questionnaire {
    /// The canonical URLs of value sets its items take answers from that are not contained in the form:
    /// what the app must fetch from the server (without a version suffix).
    public var externalValueSets: Set<String> {
        Set(allItems.compactMap { item -> String? in
            guard item.answerOptions.isEmpty, let reference = item.answerValueSet, containedValueSets[reference] == nil,
                !reference.hasPrefix("#")
            else { return nil }
            return reference
        })
    }
}
