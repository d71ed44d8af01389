import BedsideCore
import Foundation

// The history of one kind, one reading in detail, and deleting it.

func historyKey(_ state: inout AppState, _ list: inout HistoryList, _ key: Key) -> [Effect] {
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

func detailKey(_ state: inout AppState, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
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

func confirmDeleteKey(_ state: inout AppState, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
    if isYes(key) {
        state.busy = .saving
        return [.delete(id: record.id)]
    }
    if isNo(key) { state.pop() }
    return []
}
