/// Checks resources at the edge, naming the offending element, as HAPI and Medplum do.
///
/// Only what Bedside relies on is enforced; unknown elements pass untouched so that data from other
/// FHIR tools is never lost.
public struct ResourceValidator: Sendable {
    /// Milliseconds since the epoch at which "now" is judged (an injected clock, never the system's).
    public let now: Int64
    /// How far in the future a measurement may claim to be, to absorb clock skew between devices.
    public let futureTolerance: Int64

    public init(now: Int64, futureTolerance: Int64 = 15 * 60 * 1000) {
        self.now = now
        self.futureTolerance = futureTolerance
    }

    public static let observationStatuses: Set<String> = [
        "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown",
    ]
    public static let responseStatuses: Set<String> = ["in-progress", "completed", "amended", "entered-in-error", "stopped"]
    public static let flagStatuses: Set<String> = ["active", "inactive", "entered-in-error"]
    public static let taskStatuses: Set<String> = [
        "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress", "on-hold",
        "failed", "completed", "entered-in-error",
    ]
    public static let categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"

    /// All problems with `resource`, expected to be of `type`; empty when it is acceptable.
    public func validate(_ resource: JSONValue, as type: String) -> [OutcomeIssue] {
        var issues = Issues(type: type)
        guard let object = resource.objectValue else {
            issues.add("structure", "the body must be a JSON object", at: nil)
            return issues.list
        }
        guard let resourceType = object["resourceType"]?.stringValue else {
            issues.add("required", "resourceType is missing", at: "resourceType")
            return issues.list
        }
        guard resourceType == type else {
            issues.add("invalid", "expected a \(type), got a \(resourceType)", at: "resourceType")
            return issues.list
        }
        if let id = object["id"] {
            if id.stringValue.map(FHIRSyntax.isValidID) != true {
                issues.add("value", "id must be 1-64 letters, digits, '-' or '.'", at: "id")
            }
        }
        checkIdentifiers(object["identifier"], single: Self.singleIdentifierTypes.contains(type), issues: &issues)
        // A part of a resource (`_elements`, `_summary`) must not replace the whole (R4 3.1.1.5.8).
        if (object["meta"]?["tag"]?.arrayValue ?? []).contains(where: { $0["code"]?.stringValue == "SUBSETTED" }) {
            issues.add("business-rule", "this copy is SUBSETTED (read with _elements): write the whole resource, read without _elements", at: "meta.tag")
        }
        // Bedside's own extensions, where they appear and what they hold (its StructureDefinitions).
        for (index, item) in (object["extension"]?.arrayValue ?? []).enumerated() {
            if let problem = BedsideExtension.problem(with: item, on: type) { issues.add("value", problem, at: "extension[\(index)]") }
        }
        switch type {
        case "Observation": validateObservation(object, issues: &issues)
        case "QuestionnaireResponse": validateQuestionnaireResponse(object, issues: &issues)
        case "Flag": validateFlag(object, issues: &issues)
        case "Task": validateTask(object, issues: &issues)
        case "Patient": validatePatient(object, issues: &issues)
        case "CareTeam": validateCareTeam(object, issues: &issues)
        case "Questionnaire": validateQuestionnaire(object, issues: &issues)
        case "Group": validateGroup(object, issues: &issues)
        case "ValueSet":
            _ = checkStatus(object, allowed: Self.publicationStatuses, issues: &issues)
            if object["url"]?.stringValue?.isEmpty != false { issues.add("required", "url (the canonical questionnaires name) is required", at: "url") }
            if ValueSetCodes.codings(of: resource) == nil {
                issues.add("required", "the value set lists no codes (expansion.contains or compose.include.concept); an app could not offer them", at: "expansion")
            }
        default: break
        }
        return issues.list
    }

    /// Collects issues with the resource type prefixed to each path.
    struct Issues {
        let type: String
        var list: [OutcomeIssue] = []

        mutating func add(_ code: String, _ message: String, at path: String?) {
            list.append(OutcomeIssue(code: code, diagnostics: message, expression: path.map { "\(type).\($0)" } ?? type))
        }
    }

    /// Resources whose `identifier` is one Identifier (0..1) rather than a list.
    static let singleIdentifierTypes: Set<String> = ["QuestionnaireResponse", "Bundle"]

    private func checkIdentifiers(_ value: JSONValue?, single: Bool, issues: inout Issues) {
        guard let value else { return }
        let list: [JSONValue]
        if single {
            guard value.objectValue != nil else {
                issues.add("structure", "identifier must be one Identifier (an object), not a list", at: "identifier")
                return
            }
            list = [value]
        } else {
            guard let array = value.arrayValue else {
                issues.add("structure", "identifier must be an array", at: "identifier")
                return
            }
            list = array
        }
        for (index, item) in list.enumerated() {
            let path = single ? "identifier" : "identifier[\(index)]"
            guard let identifier = item.objectValue, identifier["value"]?.stringValue?.isEmpty == false else {
                issues.add("required", "each identifier needs a value", at: "\(path).value")
                continue
            }
            if let system = identifier["system"], system.stringValue == nil {
                issues.add("structure", "identifier.system must be a string", at: "\(path).system")
            }
        }
    }

    private func checkStatus(_ object: JSONObject, allowed: Set<String>, issues: inout Issues) -> String? {
        guard let status = object["status"]?.stringValue else {
            issues.add("required", "status is required", at: "status")
            return nil
        }
        guard allowed.contains(status) else {
            issues.add("code-invalid", "status '\(status)' is not one of \(allowed.sorted().joined(separator: ", "))", at: "status")
            return nil
        }
        return status
    }

    private func checkReference(_ value: JSONValue?, path: String, type: String, required: Bool, issues: inout Issues) {
        guard let value else {
            if required { issues.add("required", "\(path) is required", at: path) }
            return
        }
        guard let reference = value["reference"]?.stringValue else {
            issues.add("required", "\(path).reference is required", at: "\(path).reference")
            return
        }
        guard let parsed = FHIRSyntax.parseReference(reference), parsed.type == type else {
            issues.add("value", "\(path) must reference a \(type) as '\(type)/<id>'", at: "\(path).reference")
            return
        }
    }

    private func checkDateTime(_ value: JSONValue?, path: String, required: Bool, needsTime: Bool, issues: inout Issues)
        -> FHIRDateTime?
    {
        guard let value else {
            if required { issues.add("required", "\(path) is required", at: path) }
            return nil
        }
        guard let text = value.stringValue, let dateTime = FHIRDateTime(text) else {
            issues.add("value", "\(path) is not a valid FHIR dateTime", at: path)
            return nil
        }
        if needsTime, dateTime.precision != .time {
            issues.add("value", "\(path) needs a time of day with a UTC offset", at: path)
            return nil
        }
        return dateTime
    }

    // MARK: Observation

    /// An Observation as FHIR R4 allows it: what Bedside understands (its vital-sign kinds, in their
    /// units) is checked for structure and plausibility; anything else FHIR allows (partial dates,
    /// periods, other units, extra components, other codings and kinds, dataAbsentReason, comparators)
    /// is accepted and kept as it came.
    private func validateObservation(_ object: JSONObject, issues: inout Issues) {
        let status = checkStatus(object, allowed: Self.observationStatuses, issues: &issues)
        let withdrawn = status == "entered-in-error" || status == "cancelled"
        checkReference(object["subject"], path: "subject", type: "Patient", required: true, issues: &issues)
        if let category = object["category"], category.arrayValue == nil {
            issues.add("structure", "category must be an array of CodeableConcepts", at: "category")
        }
        if let device = object["device"] { checkDevice(device, issues: &issues) }
        if let notes = object["note"] {
            let ok = notes.arrayValue?.allSatisfy { $0["text"]?.stringValue != nil } ?? false
            if !ok { issues.add("structure", "note must be an array of annotations with text", at: "note") }
        }
        let kind = observationKind(object, issues: &issues)
        let hasEffective = checkEffective(object, issues: &issues)
        // The vital-signs profile requires a time for every vital sign Bedside understands.
        if kind != nil, !hasEffective, !withdrawn {
            issues.add("required", "effective[x] (effectiveDateTime, effectivePeriod or effectiveInstant) is required for a vital sign", at: "effectiveDateTime")
        }
        let valueKeys = object.keys.filter { $0.hasPrefix("value") }.sorted()
        if valueKeys.count > 1 {
            issues.add("structure", "an Observation has one value[x], found \(valueKeys.joined(separator: ", "))", at: valueKeys[1])
        }
        if !valueKeys.isEmpty, object["dataAbsentReason"] != nil {
            issues.add("structure", "dataAbsentReason is only for an Observation without a value (obs-6)", at: "dataAbsentReason")
        }
        guard let kind else { return }
        if kind == .bloodPressure {
            if object["valueQuantity"] != nil {
                issues.add("structure", "a blood pressure panel carries its values in component, not valueQuantity", at: "valueQuantity")
            }
            checkBloodPressureComponents(
                object["component"], withdrawn: withdrawn || object["dataAbsentReason"] != nil, rangeChecked: !withdrawn, issues: &issues)
        } else {
            let codes = (object["code"]?["coding"]?.arrayValue ?? []).compactMap { coding -> String? in
                coding["system"]?.stringValue == MeasurementKind.loincSystem ? coding["code"]?.stringValue : nil
            }
            guard let part = codes.lazy.compactMap(MeasurementPart.topLevel(loincCode:)).first else { return }
            if let quantity = object["valueQuantity"] {
                checkQuantity(quantity, part: part, path: "valueQuantity", rangeChecked: !withdrawn, issues: &issues)
            } else if valueKeys.isEmpty, !withdrawn, object["dataAbsentReason"] == nil, object["component"] == nil, object["hasMember"] == nil {
                // vs-2: a vital sign without components or members has a value or says why not.
                issues.add("required", "a value (valueQuantity) or a dataAbsentReason is required for \(part.display.lowercased())", at: "valueQuantity")
            }
        }
    }

    /// `device`: a Reference(Device | DeviceMetric), which may name it by display or identifier alone.
    private func checkDevice(_ device: JSONValue, issues: inout Issues) {
        guard device.objectValue != nil else {
            issues.add("structure", "device must be a Reference object", at: "device")
            return
        }
        guard let reference = device["reference"] else { return }
        guard let text = reference.stringValue,
            text.hasPrefix("#") || FHIRSyntax.parseReference(text).map({ ["Device", "DeviceMetric"].contains($0.type) }) == true
        else {
            issues.add("value", "device must reference a Device or DeviceMetric as 'Device/<id>'", at: "device.reference")
            return
        }
    }

    /// effective[x]: at most one of them; any precision of a dateTime, an instant with its time, a
    /// period whose start is not after its end; none of it in the future. Whether there is one.
    private func checkEffective(_ object: JSONObject, issues: inout Issues) -> Bool {
        let given = ["effectiveDateTime", "effectivePeriod", "effectiveInstant", "effectiveTiming"].filter { object[$0] != nil }
        guard let name = given.first else { return false }
        if given.count > 1 {
            issues.add("structure", "effective[x] is one element; found \(given.joined(separator: ", "))", at: given[1])
            return true
        }
        var earliest: FHIRDateTime?
        switch name {
        case "effectiveDateTime":
            earliest = checkDateTime(object[name], path: name, required: true, needsTime: false, issues: &issues)
        case "effectiveInstant":
            earliest = checkDateTime(object[name], path: name, required: true, needsTime: true, issues: &issues)
        case "effectivePeriod":
            guard let period = object[name]?.objectValue else {
                issues.add("structure", "effectivePeriod must be a Period object", at: name)
                return true
            }
            let start = period["start"].flatMap { checkDateTime($0, path: "\(name).start", required: false, needsTime: false, issues: &issues) }
            let end = period["end"].flatMap { checkDateTime($0, path: "\(name).end", required: false, needsTime: false, issues: &issues) }
            if let start, let end, start.lowerBound >= end.upperBound {
                issues.add("value", "effectivePeriod.start lies after its end (per-1)", at: "\(name).start")
            }
            earliest = start ?? end
        default:
            // A Timing: kept as given; Bedside does not place it in time.
            if object[name]?.objectValue == nil { issues.add("structure", "effectiveTiming must be a Timing object", at: name) }
        }
        if let earliest, earliest.lowerBound > now + futureTolerance {
            issues.add("value", "\(name) lies in the future", at: name)
        }
        return true
    }

    /// The measurement kind named by any of the codings, never assuming the first is LOINC; nil for a
    /// code Bedside has no screen or rule for (stored as it came). `code` itself is required.
    private func observationKind(_ object: JSONObject, issues: inout Issues) -> MeasurementKind? {
        guard let code = object["code"]?.objectValue else {
            issues.add("required", "code is required (a CodeableConcept)", at: "code")
            return nil
        }
        if code["coding"] != nil, code["coding"]?.arrayValue == nil {
            issues.add("structure", "code.coding must be an array of Codings", at: "code.coding")
            return nil
        }
        let codings = code["coding"]?.arrayValue ?? []
        if codings.isEmpty, code["text"]?.stringValue?.isEmpty != false {
            issues.add("required", "code needs a coding or a text", at: "code.coding")
            return nil
        }
        for coding in codings where coding["system"]?.stringValue == MeasurementKind.loincSystem {
            if let value = coding["code"]?.stringValue, let kind = MeasurementKind(loincCode: value) { return kind }
        }
        return nil
    }

    /// `rangeChecked` is false for a withdrawn reading: a wrong value must stay withdrawable, however wrong.
    private func checkBloodPressureComponents(_ value: JSONValue?, withdrawn: Bool, rangeChecked: Bool, issues: inout Issues) {
        guard let components = value?.arrayValue else {
            if !withdrawn { issues.add("required", "component with systolic and diastolic is required", at: "component") }
            return
        }
        var values: [String: Double] = [:]
        var seen: Set<String> = []
        for (index, component) in components.enumerated() {
            let path = "component[\(index)]"
            let codes = (component["code"]?["coding"]?.arrayValue ?? [])
                .filter { $0["system"]?.stringValue == MeasurementKind.loincSystem }
                .compactMap { $0["code"]?.stringValue }
            // Other components (mean arterial pressure 8478-0, a cuff size, ...) are FHIR's to allow and kept as given.
            guard let part = codes.lazy.compactMap(MeasurementPart.bloodPressureComponent(loincCode:)).first else { continue }
            if seen.contains(part.loincCode) {
                issues.add("structure", "\(part.display.lowercased()) appears twice", at: "\(path).code")
            }
            seen.insert(part.loincCode)
            guard let quantity = component["valueQuantity"] else {
                // vs-3: each component has a value or says why not.
                let explained = component["dataAbsentReason"] != nil || component.objectValue?.keys.contains { $0.hasPrefix("value") } == true
                if !withdrawn, !explained {
                    issues.add("required", "a valueQuantity or a dataAbsentReason is required", at: "\(path).valueQuantity")
                }
                continue
            }
            if let number = checkQuantity(quantity, part: part, path: "\(path).valueQuantity", rangeChecked: rangeChecked, issues: &issues) {
                values[part.loincCode] = number
            }
        }
        if !withdrawn {
            for part in [MeasurementPart.systolic, .diastolic] where !codesPresent(components, part.loincCode) {
                issues.add("required", "\(part.display.lowercased()) (\(part.loincCode)) is required", at: "component")
            }
        }
        if rangeChecked, let systolic = values[MeasurementPart.systolic.loincCode],
            let diastolic = values[MeasurementPart.diastolic.loincCode], !MeasurementPart.pressuresAreConsistent(systolic: systolic, diastolic: diastolic)
        {
            issues.add("value", "diastolic (\(format(diastolic))) must be lower than systolic (\(format(systolic)))", at: "component")
        }
    }

    private func codesPresent(_ components: [JSONValue], _ code: String) -> Bool {
        components.contains { component in
            component["code"]?["coding"]?.arrayValue?.contains { $0["code"]?.stringValue == code } ?? false
        }
    }

    /// Checks a Quantity of a part Bedside understands, as the vital-signs profile requires: a number in
    /// UCUM, in one of the part's units (`acceptedUCUMUnits`), and, when exact (no comparator), within the
    /// possible range once in Bedside's own unit (185 [lb_av] is checked as 83.9 kg). Returns the value in
    /// Bedside's unit.
    @discardableResult
    private func checkQuantity(_ quantity: JSONValue, part: MeasurementPart, path: String, rangeChecked: Bool, issues: inout Issues) -> Double? {
        guard quantity.objectValue != nil else {
            issues.add("structure", "\(path) must be a Quantity object", at: path)
            return nil
        }
        guard let rawValue = quantity["value"] else {
            issues.add("required", "\(path).value is required", at: "\(path).value")
            return nil
        }
        guard let number = rawValue.doubleValue, number.isFinite else {
            issues.add("structure", "\(path).value must be a number, not a \(rawValue.typeName)", at: "\(path).value")
            return nil
        }
        if quantity["system"]?.stringValue != MeasurementKind.ucumSystem {
            issues.add("value", "the unit system must be UCUM (\(MeasurementKind.ucumSystem))", at: "\(path).system")
            return nil
        }
        let code = quantity["code"]?.stringValue
        guard let code, part.acceptedUCUMUnits.contains(code) else {
            let given = code.map { "'\($0)'" } ?? "no unit"
            issues.add(
                "code-invalid",
                "\(given) is not a unit of \(part.display.lowercased()); expected \(part.acceptedUCUMUnits.map { "'\($0)'" }.joined(separator: " or "))",
                at: "\(path).code")
            return nil
        }
        guard quantity["comparator"] == nil else { return nil }
        let inBedsideUnit = code == part.ucumCode
        // In another of the profile's units (pounds, grams, Fahrenheit) the value is checked as what it is in Bedside's.
        guard rangeChecked else { return nil }
        // A number too large to convert is no possible value in any unit.
        let value = inBedsideUnit ? number : part.convertedLiteral(rawValue.numberLiteral ?? "", from: code).flatMap(Double.init) ?? .infinity
        guard part.plausibility(of: value) != .impossible else {
            guard value.isFinite else {
                issues.add("value", "\(format(number)) \(code) is not a possible \(part.display.lowercased())", at: "\(path).value")
                return nil
            }
            let given = inBedsideUnit ? "\(format(number)) \(code)" : "\(format(number)) \(code) (\(format(value)) \(part.ucumCode))"
            issues.add("value", "\(given) is not a possible \(part.display.lowercased()) "
                + "(\(format(part.possibleRange.lowerBound))–\(format(part.possibleRange.upperBound)) \(part.ucumCode))", at: "\(path).value")
            return nil
        }
        return value
    }

    private func format(_ value: Double) -> String { value.plainText }

    // MARK: Other resources

    private func validateQuestionnaireResponse(_ object: JSONObject, issues: inout Issues) {
        _ = checkStatus(object, allowed: Self.responseStatuses, issues: &issues)
        if object["questionnaire"]?.stringValue?.isEmpty != false {
            issues.add("required", "questionnaire (the canonical URL of the form) is required", at: "questionnaire")
        }
        checkReference(object["subject"], path: "subject", type: "Patient", required: true, issues: &issues)
        _ = checkDateTime(object["authored"], path: "authored", required: true, needsTime: true, issues: &issues)
        checkItems(object["item"], path: "item", issues: &issues)
    }

    private func checkItems(_ value: JSONValue?, path: String, issues: inout Issues) {
        guard let value else { return }
        guard let items = value.arrayValue else {
            issues.add("structure", "\(path) must be an array", at: path)
            return
        }
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            if item["linkId"]?.stringValue?.isEmpty != false {
                issues.add("required", "linkId is required", at: "\(itemPath).linkId")
            }
            checkItems(item["item"], path: "\(itemPath).item", issues: &issues)
            if let answers = item["answer"] {
                guard let list = answers.arrayValue else {
                    issues.add("structure", "answer must be an array", at: "\(itemPath).answer")
                    continue
                }
                for (answerIndex, answer) in list.enumerated() {
                    let answerPath = "\(itemPath).answer[\(answerIndex)]"
                    let valueKeys = answer.objectValue?.keys.filter { $0.hasPrefix("value") } ?? []
                    if valueKeys.count > 1 {
                        issues.add("structure", "an answer has one value[x], found \(valueKeys.count)", at: answerPath)
                    }
                    checkItems(answer["item"], path: "\(answerPath).item", issues: &issues)
                }
            }
        }
    }

    private func validateFlag(_ object: JSONObject, issues: inout Issues) {
        _ = checkStatus(object, allowed: Self.flagStatuses, issues: &issues)
        checkReference(object["subject"], path: "subject", type: "Patient", required: true, issues: &issues)
        if object["code"] == nil { issues.add("required", "code is required", at: "code") }
    }

    static let careTeamStatuses: Set<String> = ["proposed", "active", "suspended", "inactive", "entered-in-error"]
    static let publicationStatuses: Set<String> = ["draft", "active", "retired", "unknown"]

    /// A CareTeam: for one patient (`subject`), its participants' members references (a Practitioner
    /// makes the clinician see the patient while the team is active).
    private func validateCareTeam(_ object: JSONObject, issues: inout Issues) {
        if object["status"] != nil { _ = checkStatus(object, allowed: Self.careTeamStatuses, issues: &issues) }
        checkReference(object["subject"], path: "subject", type: "Patient", required: true, issues: &issues)
        for (index, participant) in (object["participant"]?.arrayValue ?? []).enumerated() {
            guard let member = participant["member"] else { continue }
            guard let reference = member["reference"]?.stringValue, FHIRSyntax.parseReference(reference) != nil else {
                issues.add("structure", "participant[\(index)].member.reference must be Type/id (e.g. Practitioner/123)", at: "participant[\(index)].member")
                continue
            }
        }
    }

    /// The most members a Group may list: a Bulk Data export of a group reads each member's compartment.
    public static let maximumGroupMembers = 10_000

    /// A Group of patients for Bulk Data: `type` person, `actual` true, members Patient references.
    private func validateGroup(_ object: JSONObject, issues: inout Issues) {
        if object["type"]?.stringValue != "person" { issues.add("code-invalid", "type must be 'person': a group of patients", at: "type") }
        if object["actual"]?.boolValue != true { issues.add("value", "actual must be true: the group lists its patients", at: "actual") }
        let members = object["member"]?.arrayValue ?? []
        if object["member"] != nil, object["member"]?.arrayValue == nil { issues.add("structure", "member must be a list", at: "member") }
        if members.count > Self.maximumGroupMembers {
            issues.add("too-costly", "a group lists at most \(Self.maximumGroupMembers) members", at: "member")
            return
        }
        for (index, member) in members.enumerated() {
            checkReference(member["entity"], path: "member[\(index)].entity", type: "Patient", required: true, issues: &issues)
            if let inactive = member["inactive"], inactive.boolValue == nil {
                issues.add("value", "member[\(index)].inactive must be true or false", at: "member[\(index)].inactive")
            }
        }
    }

    /// A Questionnaire an app can fill in: a status and at least one item.
    private func validateQuestionnaire(_ object: JSONObject, issues: inout Issues) {
        _ = checkStatus(object, allowed: Self.publicationStatuses, issues: &issues)
        if object["item"]?.arrayValue?.isEmpty != false { issues.add("required", "a questionnaire needs items to answer", at: "item") }
    }

    static let genders: Set<String> = ["male", "female", "other", "unknown"]
    static let contactSystems: Set<String> = ["phone", "fax", "email", "pager", "url", "sms", "other"]

    /// A Patient as an EMR enrols one: a name Bedside can show (`text`, or `family`/`given` strings), a
    /// birth date that is a date and not in the future, a known gender, contact points with a system and
    /// a value.
    private func validatePatient(_ object: JSONObject, issues: inout Issues) {
        let names = object["name"]?.arrayValue ?? []
        if object["name"] != nil, object["name"]?.arrayValue == nil { issues.add("structure", "name must be a list of HumanName", at: "name") }
        let shown = names.contains { name in
            !(name["text"]?.stringValue ?? "").trimmingCharacters(in: .whitespaces).isEmpty
                || name["family"]?.stringValue != nil || (name["given"]?.arrayValue?.first?.stringValue != nil)
        }
        if !shown { issues.add("required", "a name is required (name[0].text, or family and given)", at: "name") }
        if let birthDate = object["birthDate"] {
            guard let text = birthDate.stringValue, let date = FHIRDateTime(text), date.precision <= .day, !text.contains("T") else {
                issues.add("value", "birthDate must be a date (YYYY-MM-DD, YYYY-MM or YYYY)", at: "birthDate")
                return
            }
            if date.lowerBound > now { issues.add("value", "birthDate is in the future", at: "birthDate") }
        }
        if let gender = object["gender"], !(gender.stringValue.map(Self.genders.contains) ?? false) {
            issues.add("code-invalid", "gender must be one of \(Self.genders.sorted().joined(separator: ", "))", at: "gender")
        }
        if let active = object["active"], active.boolValue == nil { issues.add("structure", "active must be true or false", at: "active") }
        for (index, point) in (object["telecom"]?.arrayValue ?? []).enumerated() {
            guard let system = point["system"]?.stringValue, Self.contactSystems.contains(system) else {
                issues.add("code-invalid", "telecom[\(index)].system must be one of \(Self.contactSystems.sorted().joined(separator: ", "))", at: "telecom[\(index)].system")
                continue
            }
            if (point["value"]?.stringValue ?? "").isEmpty { issues.add("required", "telecom[\(index)].value is required", at: "telecom[\(index)].value") }
        }
    }

    private func validateTask(_ object: JSONObject, issues: inout Issues) {
        _ = checkStatus(object, allowed: Self.taskStatuses, issues: &issues)
        if object["intent"]?.stringValue == nil { issues.add("required", "intent is required", at: "intent") }
    }
}
