import BedsideCore

// The export screen: the patient's own data to a file (as `bedside export` writes it).

func openExport(_ state: inout AppState) {
    let today = CivilTime(epochMilliseconds: state.now, utcOffsetSeconds: state.utcOffsetSeconds).editable.prefix(10)
    state.push(.export(ExportForm(day: String(today))))
}

func exportKey(_ state: inout AppState, _ form: inout ExportForm, _ key: Key) -> [Effect] {
    switch key {
    case .escape:
        state.pop()
        return []
    case .up, .down, .tab, .backTab:
        form.switchFormat()
    case .enter:
        let path = form.path.text.trimmingCharacters(in: " ")
        guard !path.isEmpty else {
            form.path.error = state.localizer.text(.exportNeedPath)
            break
        }
        state.replaceTop(.export(form))
        state.busy = .exportBusy
        return [.export(format: form.format, path: path)]
    default:
        _ = form.path.handle(key)
    }
    state.replaceTop(.export(form))
    return []
}

func handleExportResult(_ state: inout AppState, _ action: Action) {
    state.busy = nil
    switch action {
    case .exported(let path, let count):
        if case .export = state.screen { state.pop() }
        state.message = StatusMessage(text: state.localizer.text(.exportDone, String(count), path), isError: false)
    case .exportFailed(let message):
        state.warn(message)
    default:
        break
    }
}
