import BedsideCore
import Foundation

/// The screens; the navigation stack in `AppState` holds these values.
public enum Screen: Sendable, Equatable {
    case login(LoginForm)
    case code(TextField)
    case unlock(TextField)
    case home
    case chooseKind(selection: Int)
    case form(MeasurementForm)
    case confirmUnusual(MeasurementForm, MeasurementRecord, [MeasurementForm.Unusual])
    case history(HistoryList)
    case detail(MeasurementRecord)
    case confirmDelete(MeasurementRecord)
    case logout
    /// What the server refused, to fix, send again or discard.
    case attention(AttentionList)
    /// The server ended the session: the password again (then the code), keeping everything local.
    case reauth(TextField)
    /// A questionnaire being filled in.
    indirect case questionnaire(QuestionnaireSession)
    /// Which of several assigned questionnaires to fill in.
    case chooseQuestionnaire(selection: Int)
    /// The patient's own data to a file: format and file name.
    case export(ExportForm)
    /// Kiosk: the alert queue of the clinician's patients.
    case alerts(AlertQueue)
    /// Kiosk: one alert with its patient and history of notes.
    case alertDetail(KioskAlert)
    /// Kiosk: one patient's every kind, open alerts and answers (from an alert, with its patient).
    case patientOverview(KioskAlert)
    /// Kiosk: the note for a triage action, before it is sent.
    case triage(TriageForm)
    /// Kiosk: someone else changed the alert first; theirs is shown, and the nurse decides.
    case triageConflict(current: KioskAlert, attempted: AlertTriage)
}
