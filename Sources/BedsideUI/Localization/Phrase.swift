import BedsideCore
import Foundation

/// Every sentence a screen shows. Each must be written in every `Language` (a test checks).
/// Placeholders `{0}`, `{1}`, … are filled in order by `Localizer.text(_:_:)`.
public enum Phrase: String, Sendable, CaseIterable {
    // Frame
    case appName, keyHelp, keyQuit, keyBack, keyNextField, keySave, keyContinue
    case headerUnsent, headerAllSent, headerRejected, headerOffline, headerLastSync, headerNeverSynced, headerLocked
    // Login
    case loginTitle, loginIntro, fieldServer, fieldEmail, fieldPassword, loginNeedServer, loginNeedEmail, loginNeedPassword
    case loginServerMustBeHTTPS, loginChecking
    case codeTitle, codeIntro, fieldCode, codeNeedSixDigits, codeChecking, codeResend
    // Unlock and lock
    case unlockTitle, unlockIntro, unlockChecking, unlockWrong, unlockWait, lockedAfterIdle
    // Home
    case homeTitle, homeToday, homeLastValues, homeNoValue, homeNotToday, homeMenuAdd, homeMenuHistory, homeMenuSync
    case homeMenuLogout, homeMenuQuit, homeDueTitle, homeDueNothing, homeDueMeasure
    // Export
    case homeMenuExport, exportTitle, exportIntro, exportFormat, exportFormatCSV, exportFormatFHIR, exportFile, exportHint, exportNeedPath
    case exportBusy, exportDone, exportExists, exportCannotCreate, exportCannotWrite, exportOutputClosed, exportOutputFailed, helpExport
    case cliExportTerminal, cliExportDone, cliExportProgress, cliExportProgressNoTotal, cliExportResuming, cliExportStopped, cliExportStateOther
    case cliExportStateUnsafe, cliExportStateFailed, cliExportTooLarge, cliExportNotInCSV, cliExportReadFailed
    // Kinds and parts
    case kindBloodPressure, kindWeight, kindHeartRate, kindOxygenSaturation, kindTemperature, kindRespiratoryRate, kindGlucose
    case partSystolic, partDiastolic, partPulse, partValue, fieldTime, fieldNote, optional
    // Adding
    case chooseKindTitle, chooseKindHint, addTitle, addHint, errorEnterValue, errorNotNumber, errorImpossible
    case errorDiastolicHigher, errorTimeFormat, errorTimeFuture, errorFixFields, unusualTitle, unusualBody, unusualHint
    case saving, saved, savedEdit, saveFailed
    // History
    case historyTitle, historyEmpty, historyHint, stateUnsent, stateSent, stateRejected, stateWithdrawn, historyCount, historyTrend
    case detailTitle, detailHint, detailHintSent, deleteTitle, deleteUnsent, deleteSent, deleteHint, deleted, withdrawn
    case editNotAllowed
    // Logout and sync
    case logoutTitle, logoutUnsentWarning, logoutHintUnsent, logoutQuestion, logoutHint, logoutBusy, loggedOut
    case syncDone, syncFailed, syncRejectedSome
    case headerSending, headerReceiving, headerSyncing, headerNeedsLogin, headerRetrying
    case durationSeconds, durationMinutes, durationHours, agoJustNow, agoMinutes, agoHours
    case homeNeedsLogin, homeAttention, homeClockWrong
    // Needs attention, and logging in again
    case attentionTitle, attentionIntro, attentionEmpty, attentionWithdrawal, attentionReason, attentionDiscard
    case attentionDiscardWithdrawal, attentionHint, attentionNoEditWithdrawal, resent, discarded
    case reauthTitle, reauthIntro, reauthDone, errorOtherAccount
    // Errors the app reports
    case errorNoAccount, errorNotPatient, errorLoginAgain, errorAccountIncomplete, errorUnreachable, errorUntrusted
    case errorTimedOut, errorInsecure, errorWrongCredentials, errorSessionEnded, errorLocked, errorCodeWrong, errorCodeExpired, errorServerSaid
    case errorResponseTooLarge, errorHeadersTooLarge, errorEnrolmentCode, errorWeakPassword
    case enrolTitle, enrolIntro, enrolNeedCode, fieldEnrolCode, fieldNewPassword, fieldPasswordAgain, keyEnrol, keyLoginInstead
    // Questionnaires
    case qProgress, qRequired, qUnit, qRange, qFormat, qYes, qNo, qOther, qAnswer, qNotInTerminal, qValueSetMissing, qAddAnother
    case qReviewTitle, qReviewMissing, qReviewNone, qHintChoice, qHintChoiceMany, qHintText, qHintBoolean, qHintDisplay
    case qHintAddAnother, qHintReview, qFillIn, qDue, qOverdue, qStarted, qMenuFill, qChooseTitle, qChooseHint, qNothingToFill
    case kioskTitle, kioskEmpty, kioskLoading, kioskShowing, kioskPriorityRed, kioskPriorityOrange, kioskPriorityGray, kioskAllPriorities, kioskStatusOpen, kioskStatusSnoozed, kioskStatusHandled, kioskStatusAll, kioskMyPatients, kioskEscalated, kioskSnoozedUntil, kioskHintQueue, kioskHintDetail, kioskHintClosed, kioskNotes, kioskRaised, kioskActionHandle, kioskActionEscalate, kioskActionSnooze, kioskActionNote, kioskNote, kioskNoteNeeded, kioskHintTriage, kioskHintSnooze, kioskSaved, kioskConflictTitle, kioskConflictBody, kioskConflictQuestion, kioskConflictHint, headerAlerts, kioskWrongRole
    case kioskChartTitle, kioskChartAxis, kioskChartNone, kioskRecentAnswers
    case kioskAge, kioskPhone, kioskProgramme, programmeDefault, programmeHeartFailure, programmeCOPD, programmeDiabetes
    case kioskOverviewTitle, kioskOverviewLoading, kioskOverviewLatest, kioskOverviewTrend, kioskOverviewNone, kioskOverviewOpenAlerts,
        kioskOverviewNoAlerts, kioskOverviewNoAnswers, kioskOverviewFailed, kioskHintOverview
    case qSending, qSubmitted, qScore, qUnavailable, qOpening, attentionAnswers, attentionEditAnswers, attentionDiscardAnswers, attentionDraftHint
    // The command line
    case cliNoAccount, cliAccountExists, cliEnrolCode, cliPasswordAgain, cliPasswordsDiffer, cliCodeSent, cliLoggedIn, cliDataKept, cliStatusWho, cliStatusCounts, cliStatusLastSync, cliNever, cliStatusData, cliSending, cliSyncSummary, cliNotSynced, cliSyncProgress, cliSyncReceiving, cliRetrying, cliRetryTooLong, cliSessionEnded, cliReloggedIn, cliOtherAccountHere, cliNothingToLogOut, cliForcedLocalOnly, cliUnsentRefuse, cliLoggedOut, cliUnusual, cliSaved, cliNotSaved, cliDemoPreparing, cliDemoServer, cliDemoLogins, cliDemoServing, cliDemoLoggingIn, cliDemoLoginFailed, cliDemoFinished, cliNotTerminal
    // Help
    case helpTitle, helpGeneral, helpLogin, helpHome, helpForm, helpHistory, helpAttention, helpQuestionnaire, helpKiosk, helpClose
}

/// Looks phrases up in the patient's language and fills in their placeholders.
public struct Localizer: Sendable {
    public let language: Language

    public init(_ language: Language) { self.language = language }

    public func text(_ phrase: Phrase, _ arguments: String...) -> String {
        let table = Phrases.tables[language] ?? [:]
        var result = table[phrase] ?? Phrases.tables[.en]?[phrase] ?? phrase.rawValue
        for (index, argument) in arguments.enumerated() {
            result = Self.choosingPlural(in: result, index: index, count: argument)
            result = result.replacingOccurrences(of: "{\(index)}", with: argument)
        }
        return result
    }

    /// `{N|one|other}` becomes `one` when argument N is 1 and `other` otherwise: English, Dutch and
    /// German all have these two forms (CLDR "one" is exactly 1 for whole numbers).
    static func choosingPlural(in text: String, index: Int, count: String) -> String {
        let opening = "{\(index)|"
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: opening), let end = rest[start.upperBound...].firstIndex(of: "}") {
            let forms = rest[start.upperBound..<end].split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            result += rest[..<start.lowerBound]
            result += count == "1" ? forms[0] : (forms.count > 1 ? forms[1] : forms[0])
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    public func kindName(_ kind: MeasurementKind) -> String { text(kind.phrase) }

    /// A kind's name inside a sentence: lower case in English and Dutch, while German writes every
    /// noun with a capital ("Measure your blood pressure", "Blutdruck messen").
    public func kindNameInText(_ kind: MeasurementKind) -> String {
        language == .de ? kindName(kind) : kindName(kind).lowercased()
    }
}

extension Localizer {
    /// A measurement's value as the patient reads it: `135/85 mmHg · 72/min`, `82,4 kg`.
    public func value(of record: MeasurementRecord) -> String {
        if record.kind == .bloodPressure {
            var text = "\(language.number(record.literal(.systolic) ?? "?"))/\(language.number(record.literal(.diastolic) ?? "?")) mmHg"
            if let pulse = record.literal(.pulseInPanel) { text += " · \(language.number(pulse))/min" }
            return text
        }
        guard let first = record.values.first else { return "?" }
        return "\(language.number(first.literal)) \(first.part.displayUnit)"
    }

    /// Where a measurement stands with the server, in words.
    public func label(of state: MeasurementRecord.SyncState) -> String {
        switch state {
        case .pending: text(.stateUnsent)
        case .synced: text(.stateSent)
        case .rejected: text(.stateRejected)
        case .withdrawn: text(.stateWithdrawn)
        }
    }
}

extension MeasurementKind {
    var phrase: Phrase {
        switch self {
        case .bloodPressure: .kindBloodPressure
        case .bodyWeight: .kindWeight
        case .heartRate: .kindHeartRate
        case .oxygenSaturation: .kindOxygenSaturation
        case .bodyTemperature: .kindTemperature
        case .respiratoryRate: .kindRespiratoryRate
        case .glucose: .kindGlucose
        }
    }
}
