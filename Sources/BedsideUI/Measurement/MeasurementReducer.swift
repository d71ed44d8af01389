import BedsideCore
import Foundation

// Entering a measurement, and confirming an unusual value.

func formKey(_ state: inout AppState, _ form: inout MeasurementForm, _ key: Key) -> [Effect] {
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

func confirmUnusualKey(_ state: inout AppState, _ form: inout MeasurementForm, _ record: MeasurementRecord, _ key: Key) -> [Effect] {
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
