import BedsideCore

/// Work the UI asks the runtime to do. Effects are data: the reducer stays pure and tests can read them.
public enum Effect: Sendable, Equatable {
    /// Password step of the login: ask the server to e-mail a code.
    case requestCode(server: String, email: String, password: String)
    /// Code step: finish the login, create the vault and the local database.
    case verifyCode(code: String)
    /// An invited patient's first login: the e-mailed enrolment code and the password they chose.
    case enrol(server: String, email: String, code: String, password: String)
    case unlock(password: String)
    /// Drop the data key from memory.
    case lock
    /// Read what the home screen shows.
    case loadStatus
    case save(MeasurementRecord)
    case update(MeasurementRecord)
    case delete(id: String)
    /// A page of history, newest first.
    case loadHistory(kind: MeasurementKind, after: HistoryPosition?)
    /// Push the outbox and pull, reporting progress as it goes.
    case sync
    /// What the server refused, for the "Needs attention" screen.
    case loadAttention
    /// Queue a refused change again as it is.
    case resend(id: String)
    /// Give up a refused change, by the patient's explicit choice.
    case discard(id: String)
    /// Open an assigned questionnaire (with its draft, if started).
    case openQuestionnaire(taskID: String)
    /// Keep the answers so far, sealed.
    case saveDraft(QuestionnaireDraft)
    /// Finish the questionnaire: make the QuestionnaireResponse (`authored` as a FHIR dateTime) and queue it.
    case submitResponse(QuestionnaireDraft, authored: String)
    /// Kiosk: the alert queue; in full without a cursor, else what changed since it.
    case loadAlerts(after: QueueCursor?)
    /// Kiosk: the patient's last 30 days of the alerted kind (by LOINC code) and recent answers.
    case loadAlertContext(patientID: String, code: String?)
    /// Kiosk: the patient, every kind's latest value and last 30 days, and their latest answers.
    case loadPatientOverview(patientID: String)
    /// Kiosk: write a triage decision into the Flag, with If-Match.
    case triage(AlertTriage)
    /// Write this computer's data of the patient's to a new private file (`~/` is their home directory).
    case export(format: PatientDataExport.Format, path: String)
    case logout
    case quit
}

/// Where a history page ends (mirrors the store's keyset cursor without importing it).
public struct HistoryPosition: Sendable, Equatable {
    public var effectiveAt: Int64
    public var id: String

    public init(effectiveAt: Int64, id: String) {
        self.effectiveAt = effectiveAt
        self.id = id
    }
}
