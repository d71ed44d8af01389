import BedsideCore

// The sync worker's schedule: when to sync, how to back off, what to tell the patient.
// Triggers: on login and unlock, shortly after each entry, every `syncInterval`, on `s`, and (by
// retrying with back-off) when the network returns.

/// Starts a sync now, unless one is running (then it runs once more afterwards).
func startSync(_ state: inout AppState, manual: Bool) -> [Effect] {
    // The kiosk keeps nothing to sync: it reads and writes the server directly.
    guard state.session != nil, !state.kiosk else { return [] }
    if manual { state.sync.announceResult = true }
    if state.sync.running {
        state.sync.requestedAgain = true
        return []
    }
    // After a 401 only the patient's new login (or their explicit request) tries again.
    if state.sync.needsLogin && !manual { return [] }
    state.sync.running = true
    state.sync.phase = nil
    state.sync.nextAttemptAt = nil
    return [.sync]
}

/// Asks for a sync `delay` from now, keeping an earlier one if there is one.
func scheduleSync(_ state: inout AppState, in delay: Int64) {
    let at = state.now + delay
    state.sync.nextAttemptAt = min(state.sync.nextAttemptAt ?? at, at)
}

/// On every tick: start the sync whose time has come.
func syncIfDue(_ state: inout AppState) -> [Effect] {
    guard state.session != nil, !state.sync.running, !state.sync.needsLogin, let at = state.sync.nextAttemptAt, state.now >= at
    else { return [] }
    return startSync(&state, manual: false)
}

func finishSync(_ state: inout AppState, _ outcome: SyncOutcome) -> [Effect] {
    let announce = state.sync.announceResult
    state.sync.running = false
    state.sync.phase = nil
    state.sync.announceResult = false
    // A sync that ends after a lock or logout reports to nobody.
    guard state.session != nil else { return [] }
    var effects: [Effect] = [.loadStatus]
    if case .attention = state.screen, outcome.rejected > 0 { effects.append(.loadAttention) }
    switch outcome.failure {
    case nil:
        state.sync.failures = 0
        state.sync.offline = false
        state.sync.lastError = nil
        state.sync.needsLogin = false
        state.sync.nextAttemptAt = state.now + state.syncInterval
        if outcome.rejected > 0 {
            state.warn(state.localizer.text(.syncRejectedSome, String(outcome.rejected)))
        } else if announce {
            state.inform(.syncDone)
        }
        if state.sync.requestedAgain {
            state.sync.requestedAgain = false
            effects += startSync(&state, manual: false)
        }
    case .sessionEnded:
        state.sync.needsLogin = true
        state.sync.offline = false
        state.sync.requestedAgain = false
        state.sync.nextAttemptAt = nil
        state.sync.lastError = outcome.message
        // Ask at once when the patient is on the home screen; elsewhere the home screen asks later.
        if case .home = state.screen, state.busy == nil {
            state.push(.reauth(TextField(masked: true, maxLength: 256)))
        }
    case .offline, .serverBusy, .other:
        state.sync.failures += 1
        state.sync.offline = outcome.failure == .offline
        state.sync.lastError = outcome.message
        state.sync.requestedAgain = false
        var retryAfter: Int?
        if case .serverBusy(let seconds) = outcome.failure { retryAfter = seconds }
        let delay = state.retryPolicy.delay(afterFailures: state.sync.failures, retryAfterSeconds: retryAfter, randomUnit: state.ids.unit())
        state.sync.nextAttemptAt = state.now + delay
        if announce, let message = outcome.message { state.warn(state.localizer.text(.syncFailed, message)) }
    }
    return effects
}
