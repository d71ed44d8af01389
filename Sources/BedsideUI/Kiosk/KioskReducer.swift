import BedsideCore

// The clinician kiosk: the alert queue, one alert, the note for a decision, and the conflict when
// another nurse decided first. The queue lives at the bottom of the stack while unlocked.

/// Snooze lengths a nurse can choose, in hours.
let snoozeChoices = [1, 4, 24]

/// After login or unlock: the queue, loaded at once.
func openKiosk(_ state: inout AppState) -> [Effect] {
    var queue = AlertQueue()
    queue.loading = true
    queue.requestedAt = state.now
    state.stack = [.alerts(queue)]
    return [.loadAlerts(after: nil)]
}

/// On the clock: ask for what changed every `alertRefreshInterval` (a 304 when nothing did).
func refreshAlertsIfDue(_ state: inout AppState) -> [Effect] {
    guard state.kiosk, state.session != nil, case .alerts(var queue)? = state.stack.first, !queue.loading,
        state.now - queue.requestedAt >= state.alertRefreshInterval
    else { return [] }
    queue.loading = true
    queue.requestedAt = state.now
    state.stack[0] = .alerts(queue)
    return [.loadAlerts(after: queue.cursor)]
}

func alertsKey(_ state: inout AppState, _ queue: inout AlertQueue, _ key: Key) -> [Effect] {
    defer { if case .alerts = state.screen { state.replaceTop(.alerts(queue)) } }
    let shown = queue.shown(at: state.now)
    let index = shown.firstIndex { $0.id == queue.selectedID } ?? 0
    func select(_ position: Int) {
        guard !shown.isEmpty else { return }
        queue.selectedID = shown[max(0, min(shown.count - 1, position))].id
    }
    let page = max(1, state.height - 8)
    switch key {
    case .up: select(index - 1)
    case .down: select(index + 1)
    case .pageUp: select(index - page)
    case .pageDown: select(index + page)
    case .home: select(0)
    case .end: select(shown.count - 1)
    case .enter:
        guard shown.indices.contains(index) else { return [] }
        queue.selectedID = shown[index].id
        state.replaceTop(.alerts(queue))
        state.push(.alertDetail(shown[index]))
        state.alertContext = nil
        return [.loadAlertContext(patientID: shown[index].patientID, code: shown[index].code)]
    case .character("o"):
        guard shown.indices.contains(index) else { return [] }
        queue.selectedID = shown[index].id
        state.replaceTop(.alerts(queue))
        return openPatientOverview(&state, shown[index])
    case .character("p"):
        // All, then red, orange, gray only.
        let order: [AlertPriority?] = [nil, .red, .orange, .gray]
        let next = ((order.firstIndex { $0 == queue.filter.priority } ?? 0) + 1) % order.count
        queue.filter.priority = order[next]
        queue.top = 0
    case .character("m"):
        queue.filter.myPatientsOnly.toggle()
        queue.top = 0
    case .character("v"):
        let all = KioskFilter.Status.allCases
        queue.filter.status = all[((all.firstIndex(of: queue.filter.status) ?? 0) + 1) % all.count]
        queue.top = 0
    case .character("r"):
        // The whole queue again (what a refresh's changes cannot tell: a patient who left the team).
        guard !queue.loading else { return [] }
        queue.loading = true
        queue.requestedAt = state.now
        return [.loadAlerts(after: nil)]
    case .character("L"), .character("l"):
        state.busy = .logoutBusy
        return [.logout]
    case .character("q"), .escape:
        state.quitting = true
        return [.quit]
    default:
        break
    }
    return []
}

func alertDetailKey(_ state: inout AppState, _ alert: KioskAlert, _ key: Key) -> [Effect] {
    switch key {
    case .character("h") where alert.isOpen: state.push(.triage(TriageForm(alert: alert, action: .handle)))
    case .character("e") where alert.isOpen && !alert.escalated: state.push(.triage(TriageForm(alert: alert, action: .escalate)))
    case .character("z") where alert.isOpen:
        state.push(.triage(TriageForm(alert: alert, action: .snooze(until: state.now + Int64(snoozeChoices[1]) * 3_600_000))))
    case .character("n"): state.push(.triage(TriageForm(alert: alert, action: .note)))
    case .character("o"): return openPatientOverview(&state, alert)
    case .escape, .character("q"):
        state.pop()
        state.alertContext = nil
    default: break
    }
    return []
}

/// The patient of `alert`, whole: pushed at once with what the alert knows, filled in when loaded.
private func openPatientOverview(_ state: inout AppState, _ alert: KioskAlert) -> [Effect] {
    state.patientOverview = nil
    state.push(.patientOverview(alert))
    return [.loadPatientOverview(patientID: alert.patientID)]
}

func patientOverviewKey(_ state: inout AppState, _ alert: KioskAlert, _ key: Key) -> [Effect] {
    switch key {
    case .escape, .character("q"):
        state.pop()
        state.patientOverview = nil
    case .character("r"):
        state.patientOverview = nil
        return [.loadPatientOverview(patientID: alert.patientID)]
    default: break
    }
    return []
}

func triageKey(_ state: inout AppState, _ form: inout TriageForm, _ key: Key) -> [Effect] {
    defer { if case .triage = state.screen { state.replaceTop(.triage(form)) } }
    switch key {
    case .escape:
        state.pop()
    case .left, .right:
        // Snooze: choose how long.
        guard case .snooze(let until) = form.action else { return [] }
        // Wrapping arithmetic: however far off `until` is, this only picks the nearest choice, never traps.
        let hours = Int((until &- state.now &+ 1_800_000) / 3_600_000)
        let current = snoozeChoices.firstIndex { $0 >= hours } ?? 1
        let next = max(0, min(snoozeChoices.count - 1, current + (key == .left ? -1 : 1)))
        form.action = .snooze(until: state.now + Int64(snoozeChoices[next]) * 3_600_000)
    case .enter:
        let note = form.note.text.trimmingCharacters(in: " ")
        // Why a decision was made is part of the record: every decision but a snooze needs a note.
        if note.isEmpty, !isSnooze(form.action) {
            form.note.error = state.localizer.text(.kioskNoteNeeded)
            return []
        }
        state.busy = .saving
        return [.triage(AlertTriage(alertID: form.alert.id, version: form.alert.version, action: form.action, note: note))]
    default:
        _ = form.note.handle(key)
    }
    return []
}

private func isSnooze(_ action: TriageAction) -> Bool {
    if case .snooze = action { return true }
    return false
}

func triageConflictKey(_ state: inout AppState, _ current: KioskAlert, _ attempted: AlertTriage, _ key: Key) -> [Effect] {
    if isYes(key) {
        // The nurse read the newer state and still decides so: send it against that version.
        var again = attempted
        again.version = current.version
        state.busy = .saving
        return [.triage(again)]
    }
    if isNo(key) {
        state.replaceTop(.alertDetail(current))
    }
    return []
}

/// The queue after an answer: the nurse's place kept, and an alert open on screen in its newest state.
private func showQueue(_ state: inout AppState, _ queue: inout AlertQueue, cursor: QueueCursor, changed: [KioskAlert]) {
    queue.cursor = cursor
    queue.loading = false
    queue.loaded = true
    if queue.selectedID == nil || !queue.alerts.contains(where: { $0.id == queue.selectedID }) {
        queue.selectedID = queue.shown(at: state.now).first?.id
    }
    state.stack[0] = .alerts(queue)
    let fresh = Dictionary(changed.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    for index in state.stack.indices {
        if case .alertDetail(let shown) = state.stack[index], let newer = fresh[shown.id], newer.version >= shown.version {
            state.stack[index] = .alertDetail(newer)
        }
    }
}

func handleKioskResult(_ state: inout AppState, _ action: KioskAction) -> [Effect] {
    // An answer that arrives after the lock (a refresh or a triage that was under way) shows nothing:
    // the locked screen keeps no patient's name, number or alert. Unlocking loads the queue again.
    guard state.session != nil else { return [] }
    switch action {
    case .alertsLoaded(let alerts, let cursor):
        guard case .alerts(var queue)? = state.stack.first else { return [] }
        queue.replace(with: alerts)
        showQueue(&state, &queue, cursor: cursor, changed: alerts)
    case .alertsChanged(let changed, let cursor):
        guard case .alerts(var queue)? = state.stack.first else { return [] }
        queue.merge(changed)
        showQueue(&state, &queue, cursor: cursor, changed: changed)
    case .alertsUnchanged:
        guard case .alerts(var queue)? = state.stack.first else { return [] }
        queue.loading = false
        state.stack[0] = .alerts(queue)
    case .alertsFailed(let message):
        guard case .alerts(var queue)? = state.stack.first else { return [] }
        queue.loading = false
        state.stack[0] = .alerts(queue)
        state.warn(message)
    case .triaged(let alert):
        state.busy = nil
        if case .alerts(var queue)? = state.stack.first {
            // The next refresh brings this version too; merged by version, it changes nothing.
            queue.merge([alert])
            state.stack[0] = .alerts(queue)
        }
        // Back to the queue after a decision that takes the alert out of it; to the alert after a note.
        state.stack = Array(state.stack.prefix(1))
        if alert.isOpen && !alert.isSnoozed(at: state.now) { state.push(.alertDetail(alert)) } else { state.alertContext = nil }
        state.inform(.kioskSaved)
    case .triageConflict(let current, let attempted):
        state.busy = nil
        state.replaceTop(.triageConflict(current: current, attempted: attempted))
    case .alertContextLoaded(let context):
        // Only for the alert still on screen.
        guard state.stack.contains(where: { if case .alertDetail(let shown) = $0 { shown.patientID == context.patientID } else { false } })
        else { return [] }
        state.alertContext = context
    case .patientOverviewLoaded(let overview):
        // Only for the patient still on screen.
        guard case .patientOverview(let shown) = state.screen, shown.patientID == overview.patientID else { return [] }
        state.patientOverview = overview
    }
    return []
}
