import BedsideCore
import Foundation

/// Draws the state: `AppState -> Frame`. Layout follows the frame's size; nothing is hard-coded to 80x24.
public func render(_ state: AppState) -> Frame {
    var frame = Frame(width: state.width, height: state.height)
    guard state.width >= 20, state.height >= 6 else {
        frame.put("Bedside: window too small", x: 0, y: 0, role: .error)
        return frame
    }
    var painter = Painter(frame: frame, state: state)
    painter.header()
    switch state.screen {
    case .login(let form): painter.login(form)
    case .code(let field): painter.code(field)
    case .unlock(let field): painter.unlock(field)
    case .home: painter.home()
    case .chooseKind(let selection): painter.chooseKind(selection)
    case .form(let form): painter.form(form)
    case .confirmUnusual(_, let record, let unusual): painter.confirmUnusual(record, unusual)
    case .history(let list): painter.history(list)
    case .detail(let record): painter.detail(record)
    case .confirmDelete(let record): painter.confirmDelete(record)
    case .logout: painter.logout()
    case .attention(let list): painter.attention(list)
    case .reauth(let field): painter.reauth(field)
    case .questionnaire(let session): painter.questionnaire(session)
    case .chooseQuestionnaire(let selection): painter.chooseQuestionnaire(selection)
    case .export(let form): painter.export(form)
    case .alerts(let queue): painter.alerts(queue)
    case .alertDetail(let alert): painter.alertDetail(alert)
    case .patientOverview(let alert): painter.patientOverview(alert)
    case .triage(let form): painter.triage(form)
    case .triageConflict(let current, let attempted): painter.triageConflict(current, attempted)
    }
    painter.footer()
    if state.showingHelp { painter.help() }
    return painter.frame
}

/// Drawing helpers bound to one frame and state.
struct Painter {
    var frame: Frame
    let state: AppState
    var t: Localizer { state.localizer }
    var width: Int { frame.width }
    var height: Int { frame.height }
    /// First row of a screen's content.
    let top = 2
    var hints: String = ""

    init(frame: Frame, state: AppState) {
        self.frame = frame
        self.state = state
    }

    // MARK: Chrome

    mutating func header() {
        frame.fill(role: .statusBar, y: 0)
        var left = " " + t.text(.appName)
        if let session = state.session { left += " · " + session.displayName }
        var right: [String] = []
        if state.session == nil {
            if case .unlock = state.screen { right.append(t.text(.headerLocked)) }
        } else {
            if state.kiosk {
                if let counts = kioskCounts() { right.append(counts) }
            } else {
                let status = state.status
                right.append(status.unsent > 0 ? t.text(.headerUnsent, String(status.unsent)) : t.text(.headerAllSent))
                if status.rejected > 0 { right.append(t.text(.headerRejected, String(status.rejected))) }
                right.append(syncActivityText())
            }
        }
        let rightText = right.joined(separator: " · ") + " "
        let rightWidth = TextWidth.columns(of: rightText)
        frame.put(TextWidth.truncate(left, to: max(0, width - rightWidth - 1)), x: 0, y: 0, role: .statusBar)
        frame.put(rightText, x: max(0, width - rightWidth), y: 0, role: .statusBar)
    }

    /// The sync worker in a few words: sending 3 of 120 · receiving · offline, retrying in 40 s · synced 2 min ago.
    func syncActivityText() -> String {
        let sync = state.sync
        if sync.running {
            switch sync.phase {
            case .sending(let done, let total) where total > 0: return t.text(.headerSending, String(min(done + 1, total)), String(total))
            case .receiving: return t.text(.headerReceiving)
            default: return t.text(.headerSyncing)
            }
        }
        if sync.needsLogin { return t.text(.headerNeedsLogin) }
        if sync.failures > 0, let at = sync.nextAttemptAt {
            let retry = t.text(.headerRetrying, duration(max(0, at - state.now)))
            return sync.offline ? t.text(.headerOffline) + ", " + retry : retry
        }
        return state.status.lastSync.map { t.text(.headerLastSync, ago($0)) } ?? t.text(.headerNeverSynced)
    }

    /// "40 s", "3 min", "2 h": how long until something.
    func duration(_ milliseconds: Int64) -> String {
        // Rounded up without adding first, so Int64.max (a clock offset from a broken server) cannot overflow.
        let seconds = milliseconds / 1000 + (milliseconds % 1000 > 0 ? 1 : 0)
        if seconds < 60 { return t.text(.durationSeconds, String(seconds)) }
        if seconds < 3600 { return t.text(.durationMinutes, String((seconds + 59) / 60)) }
        return t.text(.durationHours, String((seconds + 1799) / 3600))
    }

    /// "just now", "2 min ago", "3 h ago", or the date: how long since something.
    func ago(_ time: Int64) -> String {
        let elapsed = max(0, state.now - time) / 1000
        if elapsed < 60 { return t.text(.agoJustNow) }
        if elapsed < 3600 { return t.text(.agoMinutes, String(elapsed / 60)) }
        if elapsed < 86_400 { return t.text(.agoHours, String(elapsed / 3600)) }
        return when(time)
    }

    mutating func footer() {
        if let busy = state.busy {
            frame.put(" " + t.text(busy), x: 0, y: height - 2, role: .accent, maxWidth: width)
        } else if let message = state.message {
            let lines = TextWidth.wrap(message.text, width: width - 2)
            let first = max(top, height - 1 - lines.count)
            for (offset, line) in lines.enumerated() where first + offset < height - 1 {
                frame.put(" " + line, x: 0, y: first + offset, role: message.isError ? .error : .ok)
            }
        }
        frame.fill(role: .statusBar, y: height - 1)
        let help = screenTakesText(state.screen) ? "F1" + t.text(.keyHelp).drop { $0 != ":" } : t.text(.keyHelp)
        frame.put(" " + TextWidth.truncate(hints + "  " + help, to: width - 2), x: 0, y: height - 1, role: .statusBar)
    }

    mutating func title(_ text: String) {
        frame.put(" " + text, x: 0, y: top, role: .title, maxWidth: width)
    }

    /// Writes wrapped text from row `y`; returns the next free row.
    @discardableResult
    mutating func paragraph(_ text: String, y: Int, role: StyleRole = .text, indent: Int = 1) -> Int {
        var row = y
        for line in TextWidth.wrap(text, width: width - indent - 1) where row < height - 2 {
            frame.put(line, x: indent, y: row, role: role)
            row += 1
        }
        return row
    }

    /// A labelled input box; the cursor goes to the focused one. Returns the next free row.
    @discardableResult
    mutating func field(_ label: String, _ field: TextField, y: Int, focused: Bool, labelWidth: Int = 20, boxWidth: Int = 32, suffix: String = "")
        -> Int
    {
        guard y < height - 2 else { return y }
        let mark = field.error == nil ? " " : "!"
        frame.put(mark, x: 1, y: y, role: .error)
        frame.put(TextWidth.truncate(label, to: labelWidth - 1), x: 2, y: y, role: focused ? .accent : .text)
        let x = 2 + labelWidth
        let box = max(4, min(boxWidth, width - x - 2 - TextWidth.columns(of: suffix)))
        let shown = field.display
        // Scroll long content so the cursor stays visible.
        let start = focused ? max(0, field.cursor - box + 1) : 0
        let visible = String(shown.dropFirst(start))
        frame.fill(role: .input, x: x, y: y, width: box)
        frame.put(TextWidth.truncate(visible, to: box), x: x, y: y, role: .input)
        if !suffix.isEmpty { frame.put(" " + suffix, x: x + box, y: y, role: .muted) }
        if focused {
            let before = String(shown.prefix(field.cursor).dropFirst(start))
            frame.cursor = (min(x + TextWidth.columns(of: before), x + box - 1), y)
        }
        var next = y + 1
        if let error = field.error, next < height - 2 {
            next = paragraph(error, y: next, role: .error, indent: x)
        }
        return next
    }

    // MARK: Formatting

    /// "today 07:31", "yesterday 07:12" style is avoided for translation simplicity: "23 Nov 07:31", or the time for today.
    func when(_ time: Int64, utcOffsetSeconds: Int? = nil) -> String {
        let offset = utcOffsetSeconds ?? state.zone.offset(at: time)
        let clock = state.language.time(epochMilliseconds: time, utcOffsetSeconds: offset)
        if isToday(time, utcOffsetSeconds: offset) { return clock }
        return state.language.date(epochMilliseconds: time, utcOffsetSeconds: offset) + " " + clock
    }

    /// Whether `time` falls on the state's today, in the given offset (the patient's, by default).
    func isToday(_ time: Int64, utcOffsetSeconds: Int? = nil) -> Bool {
        let day = CivilTime(epochMilliseconds: time, utcOffsetSeconds: utcOffsetSeconds ?? state.zone.offset(at: time))
        let today = CivilTime(epochMilliseconds: state.now, utcOffsetSeconds: state.utcOffsetSeconds)
        return day.year == today.year && day.month == today.month && day.day == today.day
    }

    func value(_ record: MeasurementRecord) -> String { t.value(of: record) }

    /// When a reading was made, as exactly as it is known: "07:31" or "23 Nov 07:31" (or with `full`,
    /// always the date and time); a reading from another system known only by its day, month or year
    /// shows just that.
    func measuredAt(_ record: MeasurementRecord, full: Bool = false) -> String {
        let offset = record.utcOffsetSeconds
        switch record.timePrecision {
        case .time:
            return full ? state.language.dateTime(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: offset)
                : when(record.effectiveAt, utcOffsetSeconds: offset)
        case .day:
            return state.language.date(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: offset)
        case .month, .year:
            let civil = CivilTime(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: offset)
            let month = civil.month < 10 ? "0\(civil.month)" : String(civil.month)
            return record.timePrecision == .month ? "\(civil.year)-\(month)" : String(civil.year)
        }
    }

    func stateLabel(_ record: MeasurementRecord) -> String { t.label(of: record.syncState) }
}
