import BedsideCore
import Foundation

/// What the server does when a patient's QuestionnaireResponse is stored, in the same transaction:
/// the assignment it answers (Task) is completed, and the questionnaire's alert rules (PHQ-9) run,
/// raising a Flag for the care team. A replayed upload (create matched) does none of this again.
enum ResponseFollowUp {
    static func apply(_ stored: StoredResource, db: any StoreWriting, info: RequestInfo, now: Int64) throws {
        guard stored.type == SupportedResource.questionnaireResponse.rawValue, let response = JSONParser.parseOrNil(stored.json) else { return }
        let completed = response["status"]?.stringValue == "completed"
        for reference in (response["basedOn"]?.arrayValue ?? []).compactMap({ $0["reference"]?.stringValue }) {
            try completeTask(reference, response: stored, completed: completed, db: db, info: info, now: now)
        }
        guard completed, let questionnaire = try questionnaire(named: response["questionnaire"]?.stringValue, db: db) else { return }
        let answers = [ResponseItem](json: response["item"])
        if let alert = PHQ9Rule.evaluate(questionnaire, answers: answers), let patientID = stored.patientID {
            try AlertFlags.raise(alert, patientID: patientID, trigger: "QuestionnaireResponse/\(stored.id)", db: db, info: info, now: now)
        }
    }

    /// `basedOn: Task/<id>`: it must be an assignment of the same patient; an open one is completed
    /// with the response as its output.
    private static func completeTask(
        _ reference: String, response: StoredResource, completed: Bool, db: any StoreWriting, info: RequestInfo, now: Int64
    ) throws {
        let parts = reference.split(separator: "/")
        guard parts.count == 2, parts[0] == "Task" else { return }
        let taskID = String(parts[1])
        guard let task = try db.resource(type: "Task", id: taskID), task.patientID == response.patientID,
            var object = JSONParser.parseOrNil(task.json)?.objectValue
        else {
            throw ServerError.invalid(OperationOutcome(
                code: "business-rule",
                diagnostics: "basedOn names \(reference), which is not an assignment of this patient.",
                expression: "QuestionnaireResponse.basedOn"))
        }
        // Already done (another device answered first) or withdrawn: the answers are kept, the Task stays.
        guard completed, TaskStatus.open.contains(object["status"]?.stringValue ?? "") else { return }
        object["status"] = "completed"
        object["lastModified"] = .string(FHIRDateTime.format(epochMilliseconds: now))
        var outputs = object["output"]?.arrayValue ?? []
        outputs.append([
            "type": ["text": "QuestionnaireResponse"],
            "valueReference": ["reference": .string("QuestionnaireResponse/\(response.id)")],
        ])
        object["output"] = .array(outputs)
        let version = task.versionID + 1
        try db.put(FHIRService.stamp(.object(object), type: .task, id: taskID, version: version, at: max(now, task.lastUpdated + 1)))
        try db.append([info.audit("task-completed", type: "Task", id: taskID, patientID: task.patientID, status: 200, at: now)])
    }

    /// The form a response names: its canonical (`url|version`, the version ignored) or `Questionnaire/<id>`.
    static func questionnaire(named canonical: String?, db: any StoreReading) throws -> Questionnaire? {
        guard let canonical, !canonical.isEmpty else { return nil }
        var stored: StoredResource?
        if canonical.hasPrefix("Questionnaire/") {
            stored = try db.resource(type: "Questionnaire", id: String(canonical.dropFirst("Questionnaire/".count)))
        } else {
            let url = canonical.split(separator: "|", maxSplits: 1).first.map(String.init) ?? canonical
            if let id = try db.resourceID(
                type: "Questionnaire", identifier: ResourceCode(system: ServerAdministration.canonicalSystem, code: url), patientID: nil)
            {
                stored = try db.resource(type: "Questionnaire", id: id)
            }
        }
        guard let json = stored.flatMap({ JSONParser.parseOrNil($0.json) }) else { return nil }
        return try? Questionnaire(json: json)
    }
}

/// FHIR Flags made from alerts: active, with the flag-priority extension, what triggered them, and the reasons.
enum FlagBuilder {
    /// Where a Flag says which resource raised it (the standard flag-detail extension).
    static let detailExtensionURL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
    /// Which rule raised it: one open Flag per patient and rule.
    static let ruleExtensionURL = BedsideExtension.alertRule.url

    /// The extensions this builder writes; any other on a Flag (a nurse's note, escalation) is kept on update.
    static let writtenExtensionURLs: Set<String> = [AlertPriority.extensionURL, detailExtensionURL, ruleExtensionURL]

    static func rule(of flag: JSONValue) -> String? {
        (flag["extension"]?.arrayValue ?? []).first { $0["url"]?.stringValue == ruleExtensionURL }?["valueString"]?.stringValue
    }

    static func flag(for alert: Alert, patientID: String, trigger: String, at time: Int64) -> JSONValue {
        var coding: JSONObject = [:]
        if let system = alert.code.system { coding["system"] = .string(system) }
        if let code = alert.code.code { coding["code"] = .string(code) }
        if let display = alert.code.display { coding["display"] = .string(display) }
        return [
            "resourceType": "Flag",
            "extension": [
                alert.priority.extensionJSON,
                ["url": .string(detailExtensionURL), "valueReference": ["reference": .string(trigger)]],
                ["url": .string(ruleExtensionURL), "valueString": .string(alert.rule)],
            ],
            "status": "active",
            "category": [[
                "coding": [["system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "clinical", "display": "Clinical"]],
            ]],
            "code": ["coding": [.object(coding)], "text": .string(alert.reasons.joined(separator: "; "))],
            "subject": ["reference": .string("Patient/\(patientID)")],
            "period": ["start": .string(FHIRDateTime.format(epochMilliseconds: time))],
        ]
    }
}
