import BedsideCore
import BedsideStore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// Questionnaires on the patient's side: the assignments kept from the last pull, drafts kept sealed
/// while filling in, and the finished QuestionnaireResponse queued for the sync engine.
extension PatientRuntime {
    /// The assignments to show: open Tasks whose questionnaire is here and not yet answered, overdue first.
    func assignments(in store: ClientStore) throws(StoreError) -> [Assignment] {
        let questionnaires = Dictionary(
            try store.cachedResources(type: "Questionnaire").map { ($0.id, $0.resource) }, uniquingKeysWith: { first, _ in first })
        var assignments: [Assignment] = []
        for cached in try store.cachedResources(type: "Task") {
            let task = cached.resource
            guard TaskStatus.open.contains(task["status"]?.stringValue ?? ""),
                let questionnaireID = SyncEngine.questionnaireID(of: task), let questionnaire = questionnaires[questionnaireID]
            else { continue }
            let state = try store.responseState(taskID: cached.id)
            // Answered here already: it leaves the list now, and the server closes the Task when it arrives.
            if let state, state != .draft { continue }
            let title = questionnaire["title"]?.stringValue ?? task["focus"]?["display"]?.stringValue
                ?? questionnaire["name"]?.stringValue ?? "Questionnaire"
            // A due date without a time means the end of that day.
            let due = task["restriction"]?["period"]?["end"]?.stringValue.flatMap(FHIRDateTime.init).map { $0.upperBound - 1 }
            assignments.append(Assignment(taskID: cached.id, title: title, due: due, started: state == .draft))
        }
        return assignments.sorted { ($0.due ?? .max, $0.title) < ($1.due ?? .max, $1.title) }
    }

    /// The kept Task and its Questionnaire, parsed.
    private func assignedForm(taskID: String, store: ClientStore) throws -> Questionnaire? {
        guard let task = try store.cachedResources(type: "Task").first(where: { $0.id == taskID })?.resource,
            let questionnaireID = SyncEngine.questionnaireID(of: task),
            let json = try store.cachedResources(type: "Questionnaire").first(where: { $0.id == questionnaireID })?.resource
        else { return nil }
        return try Questionnaire(json: json)
    }

    func openQuestionnaire(taskID: String) -> [Action] {
        guard let session else { return [.failed(VaultError.locked.description)] }
        do {
            guard let questionnaire = try assignedForm(taskID: taskID, store: session.store) else {
                return [.failed(t.text(.qUnavailable))]
            }
            let language = configuration.language.rawValue
            let valueSets = try valueSets(for: questionnaire, store: session.store)
            if let stored = try session.store.draft(taskID: taskID),
                let draft = QuestionnaireDraft(responseID: stored.id, taskID: taskID, payload: stored.payload)
            {
                return [.questionnaire(.opened(QuestionnaireSession(
                    questionnaire: questionnaire, draft: draft, language: language, valueSets: valueSets, now: clock.now())))]
            }
            return [.questionnaire(.opened(QuestionnaireSession(
                questionnaire: questionnaire, taskReference: "Task/\(taskID)", language: language, responseID: UUID().uuidString.lowercased(),
                valueSets: valueSets, now: clock.now())))]
        } catch let error as StoreError {
            return [.failed(error.description)]
        } catch {
            return [.failed("\(error)")]
        }
    }

    /// The codes of the kept value sets the form takes answers from, by the canonical the form names.
    private func valueSets(for questionnaire: Questionnaire, store: ClientStore) throws(StoreError) -> [String: [AnswerValue.Coding]] {
        let wanted = questionnaire.externalValueSets
        guard !wanted.isEmpty else { return [:] }
        var byURL: [String: [AnswerValue.Coding]] = [:]
        for cached in try store.cachedResources(type: "ValueSet") {
            if let url = cached.resource["url"]?.stringValue, let codes = ValueSetCodes.codings(of: cached.resource) { byURL[url] = codes }
        }
        var found: [String: [AnswerValue.Coding]] = [:]
        for canonical in wanted {
            if let codes = byURL[SyncEngine.unversioned(canonical)] { found[canonical] = codes }
        }
        return found
    }

    func saveDraft(_ draft: QuestionnaireDraft) -> [Action] {
        guard let session else { return [.failed(VaultError.locked.description)] }
        do {
            try session.store.saveDraft(id: draft.responseID, taskID: draft.taskID, payload: draft.payload, now: clock.now())
            return []
        } catch {
            return [.saveFailed(error.description)]
        }
    }

    /// Makes the QuestionnaireResponse (enableWhen applied, calculated items worked out) and queues it.
    func submitResponse(_ draft: QuestionnaireDraft, authored: String) -> [Action] {
        guard let session else { return [.failed(VaultError.locked.description)] }
        do {
            guard let questionnaire = try assignedForm(taskID: draft.taskID, store: session.store) else {
                return [.saveFailed(t.text(.qUnavailable))]
            }
            let response = Self.response(
                to: questionnaire, draft: draft, patientID: session.profile.patientID, authored: authored, now: clock.now())
            var payload = draft.payload.objectValue ?? [:]
            payload["response"] = response
            try session.store.submitResponse(id: draft.responseID, taskID: draft.taskID, payload: .object(payload), now: clock.now())
            return [.questionnaire(.submitted(title: questionnaire.displayTitle))]
        } catch let error as StoreError {
            return [.saveFailed(error.description)]
        } catch {
            return [.saveFailed("\(error)")]
        }
    }

    /// The FHIR QuestionnaireResponse for a finished draft: `completed`, based on the Task, identified by
    /// the draft's own id so a resend after a lost answer cannot make a second one.
    static func response(to questionnaire: Questionnaire, draft: QuestionnaireDraft, patientID: String, authored: String, now: Int64)
        -> JSONValue
    {
        let evaluator = EnableWhenEvaluator(questionnaire: questionnaire)
        let calculated = QuestionnaireCalculator(questionnaire: questionnaire, now: now).apply(evaluator.prune(draft.answers)).items
        return QuestionnaireResponseWriter(questionnaire: questionnaire).response(
            evaluator.prune(calculated), status: "completed", subject: "Patient/\(patientID)", authored: authored,
            basedOn: "Task/\(draft.taskID)", identifier: "urn:uuid:\(draft.responseID)")
    }
}
