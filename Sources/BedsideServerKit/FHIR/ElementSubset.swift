import BedsideCore

/// `_elements=code,value`: only the named top-level elements of each resource, plus those FHIR always
/// needs (`resourceType`, `id`, `meta`, and the type's required elements), tagged SUBSETTED so nobody
/// mistakes the part for the whole (R4 3.1.1.5.9). A search applies it to its matches, not to what
/// `_include` brings; a read to the resource it answers.
struct ElementSubset: Sendable, Equatable {
    /// The tag FHIR puts on a resource that is not all there (R4 3.1.1.5.8).
    static let subsettedTag: JSONValue = [
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
        "display": "subsetted",
    ]

    /// The element names asked for (without a `Type.` prefix).
    let names: Set<String>

    /// Reads `_elements`: comma-separated element names, each optionally `Type.name` (R5's form).
    static func parse(_ value: String, type: SupportedResource) throws(ServerError) -> ElementSubset {
        var names = Set<String>()
        for raw in value.split(separator: ",", omittingEmptySubsequences: false) {
            var name = Substring(raw.trimmingCharacters(in: .whitespaces))
            if name.hasPrefix(type.rawValue + ".") { name = name.dropFirst(type.rawValue.count + 1) }
            guard let first = name.first, first.isASCII, first.isLowercase || first == "_",
                name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else {
                throw .badRequest(
                    "_elements takes element names of \(type.rawValue), separated by commas (e.g. _elements=status,subject); '\(raw.prefix(60))' is not one.",
                    expression: "_elements")
            }
            names.insert(String(name))
        }
        guard names.count <= ServerLimits.valuesPerParameter else {
            throw .badRequest("_elements names at most \(ServerLimits.valuesPerParameter) elements.", expression: "_elements", code: "too-costly")
        }
        return ElementSubset(names: names)
    }

    /// Whether a member of the resource stays: asked for (a choice element `value` keeps `valueQuantity`
    /// and its kin, and `_value` the primitive's extensions), or one FHIR requires.
    func keeps(_ key: String, type: SupportedResource) -> Bool {
        // Modifiers change what the rest means: they stay, asked for or not.
        if ["resourceType", "id", "meta", "implicitRules", "modifierExtension"].contains(key) || type.requiredElements.contains(key) { return true }
        let bare = key.hasPrefix("_") ? String(key.dropFirst()) : key
        if names.contains(bare) || names.contains(key) { return true }
        // `value[x]`: `valueQuantity` is `value` followed by a type name, which starts in upper case.
        return names.contains { name in
            bare.hasPrefix(name) && bare.count > name.count && bare[bare.index(bare.startIndex, offsetBy: name.count)].isUppercase
        }
    }

    /// The stored resource cut down to the asked elements, tagged SUBSETTED.
    func apply(to json: [UInt8], type: SupportedResource) -> [UInt8] {
        guard let object = (try? JSONParser.parse(json))?.objectValue else { return json }
        var kept = JSONObject()
        for member in object where keeps(member.key, type: type) { kept[member.key] = member.value }
        var meta = kept["meta"]?.objectValue ?? JSONObject()
        let tags = (meta["tag"]?.arrayValue ?? []).filter { $0["code"]?.stringValue != "SUBSETTED" }
        meta["tag"] = .array(tags + [Self.subsettedTag])
        kept["meta"] = .object(meta)
        return JSONValue.object(kept).serialized()
    }
}

extension SupportedResource {
    /// The elements every resource of this type must have (cardinality 1..), kept under `_elements`
    /// whether asked for or not: without them the part would not be valid FHIR.
    var requiredElements: Set<String> {
        switch self {
        case .observation: ["status", "code"]
        case .flag: ["status", "code", "subject"]
        case .task: ["status", "intent"]
        case .questionnaire, .questionnaireResponse, .valueSet: ["status"]
        case .careTeam: []
        case .group: ["type", "actual"]
        case .patient, .practitioner: []
        case .subscription: ["status", "reason", "criteria", "channel"]
        }
    }
}
