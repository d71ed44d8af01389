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
    case .alerts(var queue): return alertsKey(&state, &queue, key)
    case .alertDetail(let alert): return alertDetailKey(&state, alert, key)
    case .patientOverview(let alert): return patientOverviewKey(&state, alert, key)
    case .triage(var form): return triageKey(&state, &form, key)
    case .triageConflict(let current, let attempted): return triageConflictKey(&state, current, attempted, key)
    }
}

func screenTakesText(_ screen: Screen) -> Bool {
    switch screen {
    case .login, .code, .unlock, .form, .reauth, .questionnaire, .triage: true
    default: false
    }
}

func isYes(_ key: Key) -> Bool { key == .character("y") || key == .character("j") || key == .character("Y") || key == .character("J") }
func isNo(_ key: Key) -> Bool { key == .character("n") || key == .character("N") || key == .escape }

private func loginKey(_ state: inout AppState, _ form: inout LoginForm, _ key: Key) -> [Effect] {
    defer { if case .login = state.screen { state.replaceTop(.login(form)) } }
    switch key {
    case .tab, .down:
        form.focus = (form.focus + 1) % 3
    case .backTab, .up:
        form.focus = (form.focus + 2) % 3
    case .escape:
        state.quitting = true
        return [.quit]
    case .enter:
        let server = form.server.text.trimmingCharacters(in: " ")
        let email = form.email.text.trimmingCharacters(in: " ")
        if server.isEmpty {
            form.server.error = state.localizer.text(.loginNeedServer)
            form.focus = 0
        } else if !server.lowercased().hasPrefix("https://") {
            form.server.error = state.localizer.text(.loginServerMustBeHTTPS)
            form.focus = 0
        } else if email.isEmpty {
            form.email.error = state.localizer.text(.loginNeedEmail)
            form.focus = 1
        } else if form.password.text.isEmpty {
            form.password.error = state.localizer.text(.loginNeedPassword)
            form.focus = 2
        } else {
            let password = form.password.text
            form.password.clear()
            state.busy = .loginChecking
            return [.requestCode(server: server, email: email, password: password)]
        }
    default:
        switch form.focus {
        case 0: _ = form.server.handle(key)
        case 1: _ = form.email.handle(key)
        default: _ = form.password.handle(key)
        }
    }
    return []
}

private func codeKey(_ state: inout AppState, _ field: inout TextField, _ key: Key) -> [Effect] {
    switch key {
    case .escape:
        state.pop()
        return []
    case .enter:
        let digits = field.text.filter(\.isNumber)
        guard digits.count == 6 else {
            field.error = state.localizer.text(.codeNeedSixDigits)
            state.replaceTop(.code(field))
            return []
        }
        state.busy = .codeChecking
        return [.verifyCode(code: digits)]
    case .character(let character) where !character.isNumber && character != " ":
        return []
    default:
        _ = field.handle(key)
        state.replaceTop(.code(field))
        return []
    }
}

private func unlockKey(_ state: inout AppState, _ field: inout TextField, _ key: Key) -> [Effect] {
    switch key {
    case .enter:
        guard !field.text.isEmpty else { return [] }
        if state.now < state.unlockBlockedUntil {
            let seconds = (state.unlockBlockedUntil - state.now + 999) / 1000
            state.warn(state.localizer.text(.unlockWait, String(seconds)))
            return []
        }
        let password = field.text
        field.clear()
        state.replaceTop(.unlock(field))
        state.busy = .unlockChecking
        return [.unlock(password: password)]
    case .escape:
        state.quitting = true
        return [.quit]
    default:
        _ = field.handle(key)
        state.replaceTop(.unlock(field))
        return []
    }
}

private func homeKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    switch key {
    case .character("a"), .character("+"):
        state.push(.chooseKind(selection: 0))
    case .character("h"):
        state.push(.history(HistoryList(kind: .bloodPressure)))
        return [.loadHistory(kind: .bloodPressure, after: nil)]
    case .character("s"):
        return startSync(&state, manual: true)
    case .character("n"):
        state.push(.attention(AttentionList()))
        return [.loadAttention]
    case .character("f"):
        return openAssignments(&state)
    case .character("i") where state.sync.needsLogin:
        state.push(.reauth(TextField(masked: true, maxLength: 256)))
    case .character("L"), .character("l"):
        state.push(.logout)
    case .character("q"), .escape:
        state.quitting = true
        return [.quit]
    case .character("r"):
        return [.loadStatus]
    default:
        break
    }
    return []
}

/// The kinds offered when adding, in menu order.
public let addableKinds: [MeasurementKind] = [
    .bloodPressure, .bodyWeight, .heartRate, .oxygenSaturation, .bodyTemperature, .glucose, .respiratoryRate,
]

private func chooseKindKey(_ state: inout AppState, _ selection: Int, _ key: Key) -> [Effect] {
    var chosen: Int?
    switch key {
    case .up: state.replaceTop(.chooseKind(selection: (selection + addableKinds.count - 1) % addableKinds.count))
    case .down, .tab: state.replaceTop(.chooseKind(selection: (selection + 1) % addableKinds.count))
    case .enter: chosen = selection
    case .escape: state.pop()
    case .character(let character):
        if let number = character.wholeNumberValue, (1...addableKinds.count).contains(number) { chosen = number - 1 }
    default: break
    }
    if let chosen {
        let form = MeasurementForm(
            kind: addableKinds[chosen], glucosePart: state.glucosePart, now: state.now, zone: state.zone)
        state.replaceTop(.form(form))
    }
    return []
}

private func formKey(_ state: inout AppState, _ form: inout MeasurementForm, _ key: Key) -> [Effect] {
    switch key {
    case .tab, .down: form.next()
    case .backTab, .up: form.previous()
    case .escape:
        state.pop()
        return []
    case .enter:
        let newID = state.ids.uuid()
        switch form.validate(language: state.language, now: state.now, newID: newID) {
        case .invalid:
            break
        case .valid(let record, let unusual) where !unusual.isEmpty:
            state.replaceTop(.confirmUnusual(form, record, unusual))
            return []
        case .valid(let record, _):
            state.busy = .saving
            state.replaceTop(.form(form))
            return [form.editing == nil ? .save(record) : .update(record)]
        }
    default:
        _ = form.fields[form.focus].handle(key)
    }
    state.replaceTop(.form(form))
    return []
}

private func confirmUnusualKey(_ state: inout AppState, _ form: inout MeasurementForm, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
    if isYes(key) {
        state.replaceTop(.form(form))
        state.busy = .saving
        return [form.editing == nil ? .save(record) : .update(record)]
    }
    if isNo(key) {
        // Back to the form with everything as typed, on the unusual field.
        if case .confirmUnusual(_, _, let unusual) = state.screen, let first = unusual.first,
            let index = form.ids.firstIndex(of: .value(first.part))
        {
            form.focus = index
        }
        state.replaceTop(.form(form))
    }
    return []
}

private func historyKey(_ state: inout AppState, _ list: inout HistoryList, _ key: Key) -> [Effect] {
    let visible = HistoryLayout.visibleRows(height: state.height)
    var effects: [Effect] = []
    switch key {
    case .up: list.selected = max(0, list.selected - 1)
    case .down: list.selected = min(max(0, list.items.count - 1), list.selected + 1)
    case .pageUp: list.selected = max(0, list.selected - visible)
    case .pageDown: list.selected = min(max(0, list.items.count - 1), list.selected + visible)
    case .home: list.selected = 0
    case .end: list.selected = max(0, list.items.count - 1)
    case .left, .right:
        let kinds = addableKinds
        let index = kinds.firstIndex(of: list.kind) ?? 0
        let next = kinds[(index + (key == .left ? kinds.count - 1 : 1)) % kinds.count]
        list = HistoryList(kind: next)
        list.loading = true
        state.replaceTop(.history(list))
        return [.loadHistory(kind: next, after: nil)]
    case .enter:
        if list.items.indices.contains(list.selected) {
            state.push(.detail(list.items[list.selected]))
            return []
        }
    case .escape:
        state.pop()
        return [.loadStatus]
    default: break
    }
    // Keep the selection in view, and fetch the next page before the patient reaches the end.
    if list.selected < list.top { list.top = list.selected }
    if list.selected >= list.top + visible { list.top = list.selected - visible + 1 }
    if !list.complete, !list.loading, list.selected + visible * 2 >= list.items.count, let last = list.items.last {
        list.loading = true
        effects.append(.loadHistory(kind: list.kind, after: HistoryPosition(effectiveAt: last.effectiveAt, id: last.id)))
    }
    state.replaceTop(.history(list))
    return effects
}

private func detailKey(_ state: inout AppState, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
    switch key {
    case .character("e"):
        guard record.syncState == .pending || record.syncState == .rejected else {
            state.warn(state.localizer.text(.editNotAllowed))
            return []
        }
        let form = MeasurementForm(
            kind: record.kind, glucosePart: state.glucosePart, now: state.now, zone: state.zone, editing: record)
        state.push(.form(form))
    case .character("d"), .delete:
        guard record.syncState != .withdrawn else { return [] }
        state.push(.confirmDelete(record))
    case .escape:
        state.pop()
    default: break
    }
    return []
}

private func confirmDeleteKey(_ state: inout AppState, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
    if isYes(key) {
        state.busy = .saving
        return [.delete(id: record.id)]
    }
    if isNo(key) { state.pop() }
    return []
}

private func logoutKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    if key == .character("s"), state.status.unsent > 0 {
        state.pop()
        return startSync(&state, manual: true)
    }
    if isYes(key) {
        state.busy = .logoutBusy
        return [.logout]
    }
    if key == .escape || isNo(key) { state.pop() }
    return []
}

// MARK: Results of effects

private func handleResult(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .codeRequested:
        state.busy = nil
        state.push(.code(TextField(maxLength: 7)))
    case .loginFailed(let message):
        state.busy = nil
        state.warn(message)
        if case .code = state.screen { state.pop() }
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
