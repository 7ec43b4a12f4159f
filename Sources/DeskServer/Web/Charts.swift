import Foundation

// Server-made SVG charts for the report pages: pure Swift, no JavaScript, no libraries.
//
// Every function returns one self-contained `<svg>` element, meant to be put into a page unescaped
// (Mustache `{{{…}}}`); all text inside it is XML-escaped here. The output is a pure function of the
// input: no dates, no random numbers, no locale, no dictionaries, so the same input gives the same
// string byte for byte.
//
// Conventions shared by all charts:
// - Numbers are written without a locale: "." as the decimal separator, at most one decimal digit,
//   no thousands separators ("12345.5"). Axis and bar labels shorten numbers of a million or more
//   ("1.5M", "2G", "3T"; "1.2e15" from 10^15 up); tooltips and the description use the full form.
// - Coordinates are rounded to at most one decimal place.
// - Colours come from the classes `chart-bar`, `chart-axis`, `chart-grid`, `chart-label` and
//   `chart-value`, with inline `fill`/`stroke` defaults so the chart looks right without CSS (any CSS
//   rule for the class wins over the inline presentation attribute; see `Charts.stylesheet`).
// - Each chart is `<svg role="img" aria-label="title">` whose `<title>` is the title and whose
//   `<desc>` states the data in words; the title is also written in bold at the top (class
//   `chart-title`) unless the caller passes `showTitle: false`. Each bar or row is a
//   `<g class="chart-item">` with its own `<title>` (the hover tooltip) and an invisible hit area
//   (`chart-hit`) as tall as the plot, so even a zero bar has a tooltip.
// - Text is ellipsized by character count ("…"), with widths estimated from the character count, so
//   long labels (Russian included) never leave their place; the full text stays in the tooltips
//   and the description.
// - Non-finite numbers (NaN, ±infinity) count as 0.

/// One bar of a bar chart: its x label, its value and an optional extra line for the tooltip.
struct ChartBar: Sendable, Hashable {
    var label: String
    var value: Double
    var note: String?

    init(label: String, value: Double, note: String? = nil) {
        self.label = label
        self.value = value
        self.note = note
    }
}

/// The chart renderers.
enum Charts {
    /// Default colours (the inline attributes); the layout's palette.
    static let barColour = "#2457c5"
    static let axisColour = "#5f6b7a"
    static let gridColour = "#dde2ea"
    static let labelColour = "#5f6b7a"
    static let valueColour = "#1d2330"

    /// Optional CSS for the classes the charts use (the inline defaults already give these colours;
    /// this adds a hover highlight). Put it in the page's `<style>` if wanted.
    static let stylesheet = """
    .chart-bar{fill:#2457c5}.chart-item:hover .chart-bar{fill:#173f94}\
    .chart-axis{stroke:#5f6b7a}.chart-grid{stroke:#dde2ea}\
    .chart-label{fill:#5f6b7a}.chart-value{fill:#1d2330}.chart-title{fill:#1d2330}
    """

    /// Label font size (tick, x and row labels), value font size and title font size, in px.
    static let labelSize = 11.0
    static let valueSize = 10.0
    static let titleSize = 13.0
    /// The height of the band the visible title takes at the top, in px.
    static let titleBand = 20.0
    /// X labels are cut to this many characters before thinning.
    static let maxBarLabelCharacters = 12
    /// Row labels of `shares` are cut to this many characters (and to a third of the width).
    static let maxRowLabelCharacters = 28
    /// The widest a bar is drawn, in px (so one bar is not a slab).
    static let maxBarWidth = 64.0
    /// Values are capped here for drawing (the text keeps the real value).
    static let drawingCap = 1e300

    // MARK: Bar chart

    /// A vertical bar chart, one bar per element, in order.
    ///
    /// - The y axis starts at 0 and has 4 or 5 round ticks (steps of 1, 2 or 5 × 10^n; whole steps
    ///   when every value is whole); bars are `value / top tick` of the plot height.
    /// - Negative values are drawn as zero-height bars (nothing below the axis); their value label,
    ///   tooltip and description show the real negative number.
    /// - A value label sits above each non-zero bar where it fits in the bar's slot.
    /// - X labels are cut to `maxBarLabelCharacters` and, when there are many bars, only every k-th
    ///   one is written so that no two overlap.
    /// - No bars: an empty plot saying "No data". All zeros: the axis 0…3 with zero-height bars.
    /// - `unit` names what the values count ("tickets"); it is written above the y axis and after
    ///   every value in the tooltips and description. `xUnit`, if given, is written under the x axis.
    /// - `title` is the accessible name and, unless `showTitle` is false (say, the page has a
    ///   `<figcaption>`), also written in bold at the top.
    /// - `width` and `height` are the SVG's size in px (at least 160 × 120), the title included.
    static func bars(_ bars: [ChartBar], title: String, unit: String, width: Int = 640, height: Int = 240,
                     xUnit: String = "", showTitle: Bool = true) -> String {
        let w = Double(max(width, 160)), h = Double(max(height, 120))
        let values = bars.map { ChartFormat.clean($0.value) }
        var svg = ChartSVG(kind: "bars", title: title, desc: barsDescription(bars, values: values, unit: unit),
                           width: w, height: h)

        let band = svg.visibleTitle(showTitle ? title : "", width: w)
        let top = 28.0 + band, right = 10.0
        let bottom = xUnit.isEmpty ? 24.0 : 38.0
        if !unit.isEmpty {
            svg.text(ChartText.fit(unit, width: w - 8, size: labelSize), x: 4, y: 12 + band, cls: "chart-label", fill: labelColour)
        }
        if !xUnit.isEmpty {
            svg.text(ChartText.fit(xUnit, width: w - 8, size: labelSize), x: w - 4, y: h - 4, cls: "chart-label",
                     fill: labelColour, anchor: "end")
        }

        guard !bars.isEmpty else {
            let left = 28.0, baseY = h - bottom
            svg.line(x1: left, y1: baseY, x2: w - right, y2: baseY, cls: "chart-axis", stroke: axisColour)
            svg.text("No data", x: (left + w - right) / 2, y: (top + baseY) / 2 + 4, cls: "chart-label",
                     fill: labelColour, anchor: "middle")
            return svg.finish()
        }

        let drawn = values.map { min(max($0, 0), drawingCap) }
        let scale = ChartScale.nice(max: drawn.max() ?? 0, integral: drawn.allSatisfy { $0 == $0.rounded() })
        let tickTexts = scale.ticks.map(ChartFormat.short)
        let left = max(28, (tickTexts.map { ChartText.width($0, size: labelSize) }.max() ?? 0) + 10)
        let plotW = w - left - right, plotH = h - top - bottom
        let baseY = top + plotH
        func y(_ v: Double) -> Double { baseY - v / scale.top * plotH }

        // Grid and tick labels.
        for (t, text) in zip(scale.ticks, tickTexts) {
            if t > 0 { svg.line(x1: left, y1: y(t), x2: w - right, y2: y(t), cls: "chart-grid", stroke: gridColour) }
            svg.text(text, x: left - 6, y: y(t) + 4, cls: "chart-label", fill: labelColour, anchor: "end")
        }

        // Bars with their tooltips and value labels.
        let slot = plotW / Double(bars.count)
        let barW = min(slot * 0.75, maxBarWidth)
        for (i, bar) in bars.enumerated() {
            let x0 = left + Double(i) * slot
            let barH = drawn[i] / scale.top * plotH
            svg.open("g", [("class", "chart-item")])
            svg.element("title", [], text: tooltip(bar.label, values[i], unit: unit, note: bar.note))
            svg.rect(x: x0, y: top, width: slot, height: plotH, cls: "chart-hit", fill: "#fff", extra: [("fill-opacity", "0")])
            svg.rect(x: x0 + (slot - barW) / 2, y: baseY - barH, width: barW, height: barH, cls: "chart-bar", fill: barColour)
            if values[i] != 0 {
                let text = ChartFormat.short(values[i])
                if ChartText.width(text, size: valueSize) <= slot - 2 {
                    svg.text(text, x: x0 + slot / 2, y: baseY - barH - 4, cls: "chart-value", fill: valueColour,
                             anchor: "middle", size: valueSize)
                }
            }
            svg.close("g")
        }

        // Axes.
        svg.line(x1: left, y1: top, x2: left, y2: baseY, cls: "chart-axis", stroke: axisColour)
        svg.line(x1: left, y1: baseY, x2: w - right, y2: baseY, cls: "chart-axis", stroke: axisColour)

        // X labels, thinned to every k-th so that none overlap.
        let labels = barLabels(bars.map(\.label), plotWidth: plotW)
        let k = labelStep(labels, slot: slot)
        for i in stride(from: 0, to: bars.count, by: k) where !labels[i].isEmpty {
            let cx = left + (Double(i) + 0.5) * slot
            let half = ChartText.width(labels[i], size: labelSize) / 2
            guard cx - half >= 0, cx + half <= w else { continue }   // never outside the picture
            svg.text(labels[i], x: cx, y: baseY + 15, cls: "chart-label", fill: labelColour, anchor: "middle")
        }
        return svg.finish()
    }

    /// The x labels as drawn: cut to `maxBarLabelCharacters`, and to the plot's width.
    static func barLabels(_ labels: [String], plotWidth: Double) -> [String] {
        labels.map { ChartText.fit(ChartText.ellipsize($0, maxCharacters: maxBarLabelCharacters), width: plotWidth, size: labelSize) }
    }

    /// Every how many bars an x label is written: the widest label plus a 6 px gap fits in k slots.
    static func labelStep(_ labels: [String], slot: Double) -> Int {
        let widest = labels.map { ChartText.width($0, size: labelSize) }.max() ?? 0
        guard widest > 0, slot > 0 else { return 1 }
        let k = ((widest + 6) / slot).rounded(.up)
        return k.isFinite ? max(1, Int(min(k, 1e9))) : 1
    }

    static func tooltip(_ label: String, _ value: Double, unit: String, note: String?) -> String {
        var s = (label.isEmpty ? "" : label + ": ") + ChartFormat.withUnit(value, unit)
        if let note, !note.isEmpty { s += " — " + note }
        return s
    }

    static func barsDescription(_ bars: [ChartBar], values: [Double], unit: String) -> String {
        guard !bars.isEmpty else { return "No data." }
        var s = "Bar chart of \(bars.count) \(bars.count == 1 ? "value" : "values")" + (unit.isEmpty ? "" : " in \(unit)") + ": "
        s += zip(bars, values).map { ($0.label.isEmpty ? "" : $0.label + " ") + ChartFormat.number($1) }.joined(separator: ", ") + "."
        if values.allSatisfy({ $0 == 0 }) {
            s += " All values are 0."
        } else if let m = values.max(), let i = values.firstIndex(of: m) {
            s += " Highest: " + (bars[i].label.isEmpty ? "" : bars[i].label + ", ") + ChartFormat.withUnit(m, unit) + "."
        }
        if values.contains(where: { $0 < 0 }) { s += " Negative values are drawn as zero." }
        return s
    }

    // MARK: Histogram

    /// The distribution of `values` over the bucket edges `buckets`, drawn with `bars` (one bar per
    /// bucket, its height the number of values in it).
    ///
    /// Edges are sorted and de-duplicated (non-finite ones dropped); buckets are half-open,
    /// [e(i), e(i+1)), labelled "1–2". Values at or above the last edge go into a last bucket "≥ 24".
    /// Values below the first edge go into a first bucket "< 0.5", which is there whenever the first
    /// edge is above 0 or some value is below it (so edges starting at 0 give no "< 0" bar for
    /// non-negative data). Non-finite values are ignored. No edges: one bucket "all".
    ///
    /// `unit` names what is counted (the y axis, as in `bars`: "tickets"); `valueUnit`, if given, is
    /// the values' unit ("business hours"), written under the x axis and in the tooltips.
    static func histogram(_ values: [Double], buckets: [Double], title: String, unit: String, valueUnit: String = "",
                          width: Int = 640, height: Int = 240, showTitle: Bool = true) -> String {
        let edges = Array(Set(buckets.filter(\.isFinite))).sorted()
        let xs = values.filter(\.isFinite)
        let u = valueUnit.isEmpty ? "" : " " + valueUnit
        guard let first = edges.first, let last = edges.last else {
            let all = xs.isEmpty ? [] : [ChartBar(label: "all", value: Double(xs.count), note: "all values")]
            return bars(all, title: title, unit: unit, width: width, height: height, xUnit: valueUnit, showTitle: showTitle)
        }
        let n = ChartFormat.number
        var out: [ChartBar] = []
        var below = 0, above = 0
        var inner = Array(repeating: 0, count: edges.count - 1)
        for x in xs {
            if x < first { below += 1 } else if x >= last { above += 1 } else {
                // The last edge not above x (binary search; edges are sorted).
                var lo = 0, hi = edges.count - 1
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2
                    if edges[mid] <= x { lo = mid } else { hi = mid }
                }
                inner[lo] += 1
            }
        }
        if first > 0 || below > 0 {
            out.append(ChartBar(label: "< " + n(first), value: Double(below), note: "under " + n(first) + u))
        }
        for i in inner.indices {
            out.append(ChartBar(label: n(edges[i]) + "–" + n(edges[i + 1]), value: Double(inner[i]),
                                note: "from " + n(edges[i]) + " to under " + n(edges[i + 1]) + u))
        }
        out.append(ChartBar(label: "≥ " + n(last), value: Double(above), note: n(last) + u + " or more"))
        return bars(out, title: title, unit: unit, width: width, height: height, xUnit: valueUnit, showTitle: showTitle)
    }

    // MARK: Shares

    /// Horizontal percentage bars from 0 to 100 %, one row per element, in order, with the
    /// percentage written beside each bar. Shares are fractions, clamped to 0…1 (non-finite: 0).
    /// A share that is not exactly 0 or 1 never reads "0%" or "100%": it reads "<0.1%" or ">99.9%".
    /// `detail` goes into the row's tooltip and the description (it is not drawn). The title is
    /// written at the top unless `showTitle` is false. The height follows from the number of rows:
    /// 26 px each, plus 32, plus 20 for the title.
    static func shares(_ rows: [(label: String, share: Double, detail: String)], title: String, width: Int = 640,
                       showTitle: Bool = true) -> String {
        let w = Double(max(width, 240))
        let band = showTitle && !title.isEmpty ? titleBand : 0
        let rowH = 26.0, top = 24.0 + band, barH = 16.0, bottom = 8.0
        let h = rows.isEmpty ? 60 + band : top + rowH * Double(rows.count) + bottom
        let shares = rows.map { min(max(ChartFormat.clean($0.share), 0), 1) }
        var svg = ChartSVG(kind: "shares", title: title, desc: sharesDescription(rows, shares: shares), width: w, height: h)
        _ = svg.visibleTitle(showTitle ? title : "", width: w)
        guard !rows.isEmpty else {
            svg.text("No data", x: w / 2, y: 34 + band, cls: "chart-label", fill: labelColour, anchor: "middle")
            return svg.finish()
        }

        let labelLimit = w / 3
        let labels = rows.map { ChartText.fit(ChartText.ellipsize($0.label, maxCharacters: maxRowLabelCharacters), width: labelLimit, size: labelSize) }
        let labelW = labels.map { ChartText.width($0, size: labelSize) }.max() ?? 0
        let trackX = 4 + labelW + 12
        let trackW = w - trackX - 56    // room for ">99.9%" beside a full bar
        let gridBottom = h - bottom

        for p in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let x = trackX + p * trackW
            if p > 0 { svg.line(x1: x, y1: top - 4, x2: x, y2: gridBottom, cls: "chart-grid", stroke: gridColour) }
            svg.text(ChartFormat.number(p * 100) + "%", x: x, y: 14 + band, cls: "chart-label", fill: labelColour, anchor: "middle")
        }
        for (i, row) in rows.enumerated() {
            let y0 = top + Double(i) * rowH
            let barW = shares[i] * trackW
            svg.open("g", [("class", "chart-item")])
            svg.element("title", [], text: (row.label.isEmpty ? "" : row.label + ": ") + ChartFormat.percent(shares[i])
                                            + (row.detail.isEmpty ? "" : " — " + row.detail))
            svg.rect(x: 0, y: y0, width: w, height: rowH, cls: "chart-hit", fill: "#fff", extra: [("fill-opacity", "0")])
            svg.text(labels[i], x: 4, y: y0 + rowH / 2 + 4, cls: "chart-label", fill: labelColour)
            svg.rect(x: trackX, y: y0 + (rowH - barH) / 2, width: barW, height: barH, cls: "chart-bar", fill: barColour)
            svg.text(ChartFormat.percent(shares[i]), x: trackX + barW + 5, y: y0 + rowH / 2 + 4, cls: "chart-value", fill: valueColour)
            svg.close("g")
        }
        svg.line(x1: trackX, y1: top - 4, x2: trackX, y2: gridBottom, cls: "chart-axis", stroke: axisColour)
        return svg.finish()
    }

    static func sharesDescription(_ rows: [(label: String, share: Double, detail: String)], shares: [Double]) -> String {
        guard !rows.isEmpty else { return "No data." }
        return "Percentages from 0 to 100: " + zip(rows, shares).map { row, share in
            (row.label.isEmpty ? "" : row.label + " ") + ChartFormat.percent(share) + (row.detail.isEmpty ? "" : " (" + row.detail + ")")
        }.joined(separator: ", ") + "."
    }
}

// MARK: - Scale

/// A y axis from 0: the ticks and the top tick.
struct ChartScale: Sendable, Hashable {
    var ticks: [Double]
    var step: Double
    var top: Double { ticks.last ?? 1 }

    /// 4 or 5 ticks from 0, the step 1, 2 or 5 × 10^n (at least 1 when `integral`, else at least
    /// 0.1, so tick labels need no more than one decimal digit), the top tick the lowest such that
    /// covers `max`. A max of 0 or less is taken as 1.
    static func nice(max rawMax: Double, integral: Bool) -> ChartScale {
        let m = rawMax.isFinite && rawMax > 0 ? min(rawMax, Charts.drawingCap) : 1
        let minStep = integral ? 1.0 : 0.1
        let e = Int(log10(m).rounded(.down))
        var best: (top: Double, step: Double, n: Int)?
        for exp in (e - 1)...Swift.max(e + 1, integral ? 0 : -1) {
            for mantissa in [1.0, 2.0, 5.0] {
                let step = mantissa * pow(10, Double(exp))
                guard step >= minStep * 0.999 else { continue }
                let intervals = Swift.max(3, Int((m / step * (1 - 1e-9)).rounded(.up)))
                guard intervals <= 4 else { continue }
                let top = Double(intervals) * step
                if best == nil || top < best!.top * (1 - 1e-12) { best = (top, step, intervals) }
            }
        }
        let b = best ?? (3 * minStep, minStep, 3)
        return ChartScale(ticks: (0...b.n).map { Double($0) * b.step }, step: b.step)
    }
}

// MARK: - Numbers

/// Locale-free number formatting.
enum ChartFormat {
    /// NaN and infinities as 0.
    static func clean(_ v: Double) -> Double { v.isFinite ? v : 0 }

    /// At most one decimal digit, "." as separator, no grouping, no "-0": "12345.5", "3", "-0.5".
    /// From 10^15 on: "1.2e15".
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "-∞" : "∞") }
        let a = abs(v)
        if a >= 1e15 { return (v < 0 ? "-" : "") + scientific(a) }
        let tenths = Int64((a * 10).rounded())
        if tenths == 0 { return "0" }
        let whole = tenths / 10, frac = tenths % 10
        return (v < 0 ? "-" : "") + String(whole) + (frac == 0 ? "" : "." + String(frac))
    }

    /// `number`, shortened from a million on: "1.5M", "2G", "3T", then "1.2e15".
    static func short(_ v: Double) -> String {
        let a = abs(v)
        guard v.isFinite, a >= 1e6, a < 1e15 else { return number(v) }
        let (div, suffix) = a >= 1e12 ? (1e12, "T") : a >= 1e9 ? (1e9, "G") : (1e6, "M")
        return number(v / div) + suffix
    }

    /// "1.2e15" for a positive, finite `a`.
    static func scientific(_ a: Double) -> String {
        var e = Int(log10(a).rounded(.down))
        var tenths = Int((a / pow(10, Double(e)) * 10).rounded())
        if tenths >= 100 { e += 1; tenths = (tenths + 5) / 10 }
        if tenths < 10 { e -= 1; tenths *= 10 }
        return String(tenths / 10) + (tenths % 10 == 0 ? "" : "." + String(tenths % 10)) + "e" + String(e)
    }

    /// A coordinate: rounded to at most one decimal place.
    static func coord(_ v: Double) -> String { number(v.isFinite ? v : 0) }

    /// "5 tickets", or "5" without a unit.
    static func withUnit(_ v: Double, _ unit: String) -> String { number(v) + (unit.isEmpty ? "" : " " + unit) }

    /// A fraction 0…1 as a percentage: "93.5%"; never "0%"/"100%" unless exactly 0/1.
    static func percent(_ share: Double) -> String {
        let s = min(max(clean(share), 0), 1)
        let text = number(s * 100)
        if text == "100" && s < 1 { return ">99.9%" }
        if text == "0" && s > 0 { return "<0.1%" }
        return text + "%"
    }
}

// MARK: - Text

/// Escaping, ellipsizing and width estimates.
enum ChartText {
    /// XML-escapes `&`, `<`, `>`, `"`, `'`; turns tabs and line breaks into spaces and characters
    /// XML cannot hold (other control characters, U+FFFE, U+FFFF) into U+FFFD.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out += " "
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                    out.unicodeScalars.append("\u{FFFD}")
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// `s` cut to at most `maxCharacters` characters (grapheme clusters), the last one "…".
    static func ellipsize(_ s: String, maxCharacters: Int) -> String {
        guard s.count > maxCharacters else { return s }
        guard maxCharacters > 1 else { return maxCharacters == 1 ? "…" : "" }
        return String(s.prefix(maxCharacters - 1)) + "…"
    }

    /// `s` ellipsized by characters until its estimated width is at most `width`.
    static func fit(_ s: String, width: Double, size: Double) -> String {
        guard self.width(s, size: size) > width else { return s }
        // No character is narrower than 0.62 em, so no more than this many can fit.
        var chars = min(s.count - 1, Int((max(width, 0) / (0.62 * size)).rounded(.down)))
        while chars > 0 {
            let t = ellipsize(s, maxCharacters: chars)
            if self.width(t, size: size) <= width { return t }
            chars -= 1
        }
        return ""
    }

    /// A generous estimate of the rendered width in px at font size `size`: 1 em for wide (CJK,
    /// emoji) characters, 0.68 em for Cyrillic, 0.62 em for anything else.
    static func width(_ s: String, size: Double) -> Double {
        var em = 0.0
        for c in s {
            let v = c.unicodeScalars.first?.value ?? 0
            if isWide(v) { em += 1 } else if (0x400...0x52F).contains(v) { em += 0.68 } else { em += 0.62 }
        }
        return em * size
    }

    static func isWide(_ v: UInt32) -> Bool {
        (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
            || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1FAFF).contains(v) || (0x20000...0x3FFFD).contains(v)
    }
}

// MARK: - SVG

/// A tiny SVG writer: attributes in the order given, all text escaped, coordinates rounded.
struct ChartSVG {
    var out = ""
    let kind: String

    init(kind: String, title: String, desc: String, width: Double, height: Double) {
        self.kind = kind
        let label = title.isEmpty ? "Chart" : title
        let w = ChartFormat.coord(width), h = ChartFormat.coord(height)
        open("svg", [("xmlns", "http://www.w3.org/2000/svg"), ("class", "chart chart-\(kind)"), ("role", "img"),
                     ("aria-label", label), ("width", w), ("height", h), ("viewBox", "0 0 \(w) \(h)"),
                     ("font-family", "system-ui, sans-serif"), ("font-size", ChartFormat.number(Charts.labelSize))])
        element("title", [], text: label)
        element("desc", [], text: desc)
    }

    /// Writes `title` in bold at the top left (cut to the width) and returns the height it takes:
    /// `Charts.titleBand`, or 0 for an empty title.
    mutating func visibleTitle(_ title: String, width: Double) -> Double {
        guard !title.isEmpty else { return 0 }
        let text = ChartText.fit(title, width: width - 8, size: Charts.titleSize * 1.1)   // bold is wider
        element("text", [("class", "chart-title"), ("x", "4"), ("y", "14"), ("fill", Charts.valueColour),
                         ("font-size", ChartFormat.number(Charts.titleSize)), ("font-weight", "600")], text: text)
        return Charts.titleBand
    }

    mutating func open(_ name: String, _ attrs: [(String, String)]) {
        out += "<" + name + Self.attributes(attrs) + ">"
    }

    mutating func close(_ name: String) { out += "</" + name + ">" }

    mutating func element(_ name: String, _ attrs: [(String, String)], text: String? = nil) {
        if let text {
            out += "<" + name + Self.attributes(attrs) + ">" + ChartText.escape(text) + "</" + name + ">"
        } else {
            out += "<" + name + Self.attributes(attrs) + "/>"
        }
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, cls: String, fill: String,
                       extra: [(String, String)] = []) {
        let c = ChartFormat.coord
        element("rect", [("class", cls), ("x", c(x)), ("y", c(y)), ("width", c(Swift.max(width, 0))),
                         ("height", c(Swift.max(height, 0))), ("fill", fill)] + extra)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, cls: String, stroke: String) {
        let c = ChartFormat.coord
        element("line", [("class", cls), ("x1", c(x1)), ("y1", c(y1)), ("x2", c(x2)), ("y2", c(y2)),
                         ("stroke", stroke), ("stroke-width", "1")])
    }

    mutating func text(_ s: String, x: Double, y: Double, cls: String, fill: String, anchor: String? = nil, size: Double? = nil) {
        let c = ChartFormat.coord
        var attrs = [("class", cls), ("x", c(x)), ("y", c(y)), ("fill", fill)]
        if let anchor { attrs.append(("text-anchor", anchor)) }
        if let size { attrs.append(("font-size", ChartFormat.number(size))) }
        element("text", attrs, text: s)
    }

    func finish() -> String { out + "</svg>" }

    static func attributes(_ attrs: [(String, String)]) -> String {
        attrs.map { " " + $0.0 + "=\"" + ChartText.escape($0.1) + "\"" }.joined()
    }
}
