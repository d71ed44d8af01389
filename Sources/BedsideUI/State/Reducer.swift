import BedsideCore
import Foundation

/// The whole client's behaviour: `(state, action) -> (state, effects)`. Pure: no I/O, no clock, no
/// randomness but the seeded id generator in the state. Effects run elsewhere and come back as actions.
public func reduce(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .key(let key):
        state.lastInputAt = state.now
        return handleKey(&state, key)
    case .tick(let now):
        state.now = now
        // Locking keeps an open form itself; otherwise typing is kept after a pause.
        var effects = checkIdleLock(&state)
        if effects.isEmpty { effects = keepTypingIfDue(&state) }
        effects += refreshAlertsIfDue(&state)
        effects += syncIfDue(&state)
        return effects
    case .resize(let width, let height):
        state.width = width
        state.height = height
        return []
    default:
        return handleResult(&state, action)
    }
}

/// Locks after the idle timeout: the key goes, the screen keeps nothing of the patient's data.
private func checkIdleLock(_ state: inout AppState) -> [Effect] {
    guard state.session != nil, state.now - state.lastInputAt >= state.idleTimeout else { return [] }
    // A questionnaire being filled in is kept first; effects of one step run in order.
    let keep = keepOpenDrafts(state)
    lockNow(&state)
    state.inform(.lockedAfterIdle, String(state.idleTimeout / 60_000))
    return keep + [.lock]
}

func lockNow(_ state: inout AppState) {
    state.session = nil
    state.alertContext = nil
    state.patientOverview = nil
    state.status = HomeStatus()
    state.sync = SyncActivity()
    state.showingHelp = false
    state.busy = nil
    state.stack = [.unlock(TextField(masked: true, maxLength: 256))]
}

// MARK: Keys

private func handleKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    if state.showingHelp {
        state.showingHelp = false
        return []
    }
    if key == .control("c") {
        state.quitting = true
        return keepOpenDrafts(state) + [.quit]
    }
    if key == .function(1) || (key == .character("?") && !screenTakesText(state.screen)) {
        state.showingHelp = true
        return []
    }
    // While the runtime works on something, keys wait (a second Enter must not log in twice).
    if state.busy != nil { return [] }
    state.message = nil
    switch state.screen {
    case .login(var form): return loginKey(&state, &form, key)
    case .code(var field): return codeKey(&state, &field, key)
    case .unlock(var field): return unlockKey(&state, &field, key)
    case .home: return homeKey(&state, key)
    case .chooseKind(let selection): return chooseKindKey(&state, selection, key)
    case .form(var form): return formKey(&state, &form, key)
    case .confirmUnusual(var form, let record, _): return confirmUnusualKey(&state, &form, record, key)
    case .history(var list): return historyKey(&state, &list, key)
    case .detail(let record): return detailKey(&state, record, key)
    case .confirmDelete(let record): return confirmDeleteKey(&state, record, key)
    case .logout: return logoutKey(&state, key)
    case .attention(var list): return attentionKey(&state, &list, key)
    case .reauth(var field): return reauthKey(&state, &field, key)
    case .questionnaire(var session): return questionnaireKey(&state, &session, key)
    case .chooseQuestionnaire(let selection): return chooseQuestionnaireKey(&state, selection, key)
    case .export(var form): return exportKey(&state, &form, key)
    case .alerts(var queue): return alertsKey(&state, &queue, key)
    case .alertDetail(let alert): return alertDetailKey(&state, alert, key)
    case .patientOverview(let alert): return patientOverviewKey(&state, alert, key)
    case .triage(var form): return triageKey(&state, &form, key)
    case .triageConflict(let current, let attempted): return triageConflictKey(&state, current, attempted, key)
    }
}

func screenTakesText(_ screen: Screen) -> Bool {
    switch screen {
    case .login, .code, .unlock, .form, .reauth, .questionnaire, .triage, .export: true
    default: false
    }
}

func isYes(_ key: Key) -> Bool { key == .character("y") || key == .character("j") || key == .character("Y") || key == .character("J") }

func isNo(_ key: Key) -> Bool { key == .character("n") || key == .character("N") || key == .escape }

/// The kinds offered when adding, in menu order.
public let addableKinds: [MeasurementKind] = [
    .bloodPressure, .bodyWeight, .heartRate, .oxygenSaturation, .bodyTemperature, .glucose, .respiratoryRate,
]

private func handleResult(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .codeRequested:
        state.busy = nil
        state.push(.code(TextField(maxLength: 7)))
    case .loginFailed(let message):
        state.busy = nil
        state.warn(message)
        if case .code = state.screen { state.pop() }
        // Enrolment refused: back to the code (the passwords were cleared when sent).
        if case .login(var form) = state.screen, form.enrolment {
            form.focus = 2
            state.replaceTop(.login(form))
        }
    case .loggedIn(let session), .unlocked(let session):
        state.busy = nil
        state.session = session
        state.unlockFailures = 0
        state.unlockBlockedUntil = 0
        state.lastInputAt = state.now
        state.sync = SyncActivity()
        if state.kiosk { return openKiosk(&state) }
        state.stack = [.home]
        return [.loadStatus] + startSync(&state, manual: false)
    case .unlockFailed(let message):
        state.busy = nil
        state.unlockFailures += 1
        // Exponential back-off: 1, 2, 4, … seconds after the third failure, at most 5 minutes.
        if state.unlockFailures >= 3 {
            let seconds = min(300, 1 << min(state.unlockFailures - 3, 9))
            state.unlockBlockedUntil = state.now + Int64(seconds) * 1000
            state.warn(message + " " + state.localizer.text(.unlockWait, String(seconds)))
        } else {
            state.warn(message)
        }
    case .statusLoaded(let status):
        state.status = status
    case .saved(let record, let edited):
        state.busy = nil
        // Back to where the patient came from: the detail view for an edit, home for a new one.
        if edited {
            state.pop()
            // Show the new values wherever this measurement is on the stack (the detail and the list under it).
            for index in state.stack.indices {
                switch state.stack[index] {
                case .detail(let shown) where shown.id == record.id:
                    state.stack[index] = .detail(record)
                case .history(var list):
                    if let position = list.items.firstIndex(where: { $0.id == record.id }) {
                        list.items[position] = record
                        state.stack[index] = .history(list)
                    }
                default: break
                }
            }
            state.inform(.savedEdit)
        } else {
            state.stack = [.home]
            state.inform(.saved)
        }
        scheduleSync(&state, in: state.syncDelayAfterEntry)
        if case .attention = state.screen { return [.loadStatus, .loadAttention] }
        return [.loadStatus]
    case .saveFailed(let message):
        state.busy = nil
        state.warn(state.localizer.text(.saveFailed, message))
    case .historyLoaded(let kind, let page, let total, let appended):
        guard case .history(var list) = state.screen, list.kind == kind else { return [] }
        list.items = appended ? list.items + page : page
        if let total { list.total = total }
        list.loading = false
        list.complete = page.isEmpty || list.items.count >= list.total
        if !appended { list.selected = 0; list.top = 0 }
        state.replaceTop(.history(list))
    case .deleted(let id, let removed):
        state.busy = nil
        // Leave the confirmation and the detail view; refresh the list.
        while state.stack.count > 1 {
            if case .history = state.screen { break }
            state.pop()
        }
        state.inform(removed ? .deleted : .withdrawn)
        if !removed { scheduleSync(&state, in: state.syncDelayAfterEntry) }
        if case .history(var list) = state.screen {
            list.items.removeAll { $0.id == id }
            list.selected = min(list.selected, max(0, list.items.count - 1))
            state.replaceTop(.history(list))
            return [.loadHistory(kind: list.kind, after: nil), .loadStatus]
        }
        return [.loadStatus]
    case .syncRequested:
        return startSync(&state, manual: true)
    case .syncProgress(let phase):
        if state.sync.running { state.sync.phase = phase }
    case .syncFinished(let outcome):
        return finishSync(&state, outcome)
    case .attention(let result):
        return handleAttentionResult(&state, result)
    case .questionnaire(let result):
        return handleQuestionnaireResult(&state, result)
    case .kiosk(let result):
        return handleKioskResult(&state, result)
    case .exported, .exportFailed:
        handleExportResult(&state, action)
    case .loggedOut:
        let server = state.session?.server ?? ""
        lockNow(&state)
        state.stack = [.login(LoginForm(server: server))]
        state.inform(.loggedOut)
    case .logoutFailed(let message), .failed(let message):
        state.busy = nil
        state.warn(message)
    case .key, .tick, .resize:
        // Input and time: `reduce` handles them before results.
        break
    }
    return []
}
