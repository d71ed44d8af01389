import BedsideCore
import Testing

@testable import BedsideUI

// Driving the reducer by hand, as the runtime would.

/// Unlocked as Ann at `now`, on the home screen, with the start-up sync already finished.
func loggedInState(at now: Int64) -> AppState {
    var state = AppState(width: 80, height: 24, now: now, utcOffsetSeconds: 3600, language: .en, hasAccount: true, server: "", idSeed: 1)
    _ = reduce(&state, .unlocked(SessionInfo(displayName: "Ann", email: "ann@example.org", server: "https://s")))
    _ = reduce(&state, .syncFinished(SyncOutcome()))
    return state
}

func press(_ state: inout AppState, _ keys: Key...) -> [Effect] {
    var effects: [Effect] = []
    for key in keys { effects += reduce(&state, .key(key)) }
    return effects
}

func type(_ state: inout AppState, _ text: String) {
    for character in text { _ = reduce(&state, .key(.character(character))) }
}

/// One exhaustive step, as TCA's test store asserts it: the action gives exactly `effects`, and the
/// whole state afterwards is the state before with exactly `change` applied. Any other change, in any
/// field, fails and is named.
func step(
    _ state: inout AppState, _ action: Action, effects expected: [Effect] = [], sourceLocation: SourceLocation = #_sourceLocation,
    change: (inout AppState) -> Void = { _ in }
) {
    var expectedState = state
    change(&expectedState)
    let effects = reduce(&state, action)
    #expect(effects == expected, sourceLocation: sourceLocation)
    if state != expectedState {
        Issue.record("the state changed otherwise than expected:\n\(stateDifference(expectedState, state))", sourceLocation: sourceLocation)
    }
}

/// The lines of two states' dumps that differ, expected (-) and actual (+), aligned by their longest
/// common subsequence so that one changed field is one pair of lines.
func stateDifference(_ expected: AppState, _ actual: AppState) -> String {
    var left = ""
    var right = ""
    dump(expected, to: &left)
    dump(actual, to: &right)
    let old = left.split(separator: "\n").map(String.init)
    let new = right.split(separator: "\n").map(String.init)
    // Lengths of the longest common subsequences of the suffixes.
    var common = Array(repeating: Array(repeating: 0, count: new.count + 1), count: old.count + 1)
    for i in stride(from: old.count - 1, through: 0, by: -1) {
        for j in stride(from: new.count - 1, through: 0, by: -1) {
            common[i][j] = old[i] == new[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
        }
    }
    var lines: [String] = []
    var i = 0
    var j = 0
    while (i < old.count || j < new.count) && lines.count < 40 {
        if i < old.count, j < new.count, old[i] == new[j] {
            i += 1
            j += 1
        } else if j < new.count, i == old.count || common[i][j + 1] >= common[i + 1][j] {
            lines.append("+ " + new[j])
            j += 1
        } else {
            lines.append("- " + old[i])
            i += 1
        }
    }
    return lines.joined(separator: "\n")
}
