@testable import DeskServer
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

// MARK: - A small DOM from XMLParser

/// One parsed XML element.
final class ChartNode {
    let name: String
    let attributes: [String: String]
    var children: [ChartNode] = []
    var text = ""
    weak var parent: ChartNode?

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    subscript(_ attribute: String) -> String? { attributes[attribute] }
    func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }
    var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
    func has(class c: String) -> Bool { classes.contains(c) }

    /// Every element below (depth first, document order).
    var descendants: [ChartNode] { children.flatMap { [$0] + $0.descendants } }
    func all(_ name: String, class c: String? = nil) -> [ChartNode] {
        descendants.filter { $0.name == name && (c == nil || $0.has(class: c!)) }
    }
    /// Text of this element and everything below.
    var allText: String { text + children.map(\.allText).joined() }
}

final class ChartDOMBuilder: NSObject, XMLParserDelegate {
    var root: ChartNode?
    var stack: [ChartNode] = []
    var error: Error?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let node = ChartNode(name: elementName, attributes: attributeDict)
        if let top = stack.last { top.children.append(node); node.parent = top } else { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        error = parseError
    }
}

struct ChartParseError: Error, CustomStringConvertible {
    var description: String
}

/// Parses `svg` with XMLParser; throws unless it is well-formed XML with an `<svg>` root.
func parseChart(_ svg: String) throws -> ChartNode {
    let parser = XMLParser(data: Data(svg.utf8))
    let builder = ChartDOMBuilder()
    parser.delegate = builder
    let ok = parser.parse()
    guard ok, builder.error == nil, let root = builder.root else {
        throw ChartParseError(description: "not well-formed (\(String(describing: builder.error ?? parser.parserError))): \(svg)")
    }
    guard root.name == "svg" else { throw ChartParseError(description: "root is <\(root.name)>") }
    return root
}

/// The chart's bars (`rect.chart-bar`).
func chartBars(_ root: ChartNode) -> [ChartNode] { root.all("rect", class: "chart-bar") }

/// The y tick labels of a bar chart: right-anchored `chart-label` texts.
func chartTicks(_ root: ChartNode) -> [String] {
    root.all("text", class: "chart-label").filter { $0["text-anchor"] == "end" && $0.parent === root }.map(\.text)
}

/// The x labels of a bar chart: centred `chart-label` texts directly in the root.
func chartXLabels(_ root: ChartNode) -> [ChartNode] {
    root.all("text", class: "chart-label").filter { $0["text-anchor"] == "middle" && $0.parent === root }
}

func chartHours(_ counts: [Int]) -> [ChartBar] {
    counts.enumerated().map { ChartBar(label: String(format: "%02d", $0.offset), value: Double($0.element)) }
}

// MARK: - Tests

/// Serialized: on Linux XMLParser is libxml2, whose global state is not safe to use from parallel tests.
@Suite("SVG charts", .serialized)
struct ChartTests {
    @Test("every kind of input gives well-formed, accessible XML with the title and a description")
    func wellFormedAndAccessible() throws {
        let long = String(repeating: "Обращение по поводу принтера ", count: 5)
        let charts: [String] = [
            Charts.bars([], title: "Empty", unit: "tickets"),
            Charts.bars(chartHours(Array(repeating: 0, count: 24)), title: "Zeros", unit: "tickets"),
            Charts.bars([ChartBar(label: "one", value: 7)], title: "One", unit: ""),
            Charts.bars([ChartBar(label: "a", value: -3), ChartBar(label: "b", value: 5)], title: "Negative", unit: "x"),
            Charts.bars([ChartBar(label: "a", value: 1e300), ChartBar(label: "b", value: .greatestFiniteMagnitude)], title: "Huge", unit: "x"),
            Charts.bars([ChartBar(label: "a", value: .nan), ChartBar(label: "b", value: .infinity), ChartBar(label: "c", value: -.infinity)],
                        title: "Non-finite", unit: "x"),
            Charts.bars([ChartBar(label: long, value: 3, note: long)], title: long, unit: long, width: 1, height: 1),
            Charts.bars((0..<2000).map { ChartBar(label: "day \($0)", value: Double($0 % 17)) }, title: "Many", unit: "t"),
            Charts.histogram([], buckets: [], title: "Nothing", unit: "tickets"),
            Charts.histogram([0.1, 3, 100], buckets: [0.5, 1, 2, 4, 8, 24], title: "Reaction", unit: "tickets", valueUnit: "business hours"),
            Charts.shares([], title: "No tiers"),
            Charts.shares([(label: long, share: 0.5, detail: long), (label: "Basic", share: .nan, detail: "")], title: "SLA", width: 10),
        ]
        for svg in charts {
            let root = try parseChart(svg)
            #expect(root["xmlns"] == "http://www.w3.org/2000/svg")
            #expect(root["role"] == "img")
            let label = try #require(root["aria-label"])
            #expect(!label.isEmpty)
            #expect(root.children.count >= 2)
            #expect(root.children[0].name == "title" && root.children[0].text == label)
            #expect(root.children[1].name == "desc" && !root.children[1].text.isEmpty)
            #expect(root["viewBox"] == "0 0 \(root["width"]!) \(root["height"]!)")
            #expect(!svg.contains("\n"))
        }
    }

    @Test("the title is written at the top unless told not to; the plot keeps below it")
    func visibleTitle() throws {
        let bars = chartHours([1, 2, 3])
        let with = try parseChart(Charts.bars(bars, title: "Tickets opened per hour of day", unit: "tickets"))
        let title = try #require(with.all("text", class: "chart-title").first)
        #expect(title.text == "Tickets opened per hour of day")
        #expect(title["font-weight"] == "600")
        let unit = try #require(with.all("text", class: "chart-label").first { $0.text == "tickets" })
        #expect(unit.number("y")! > title.number("y")! + 10)
        let plotTop = try #require(with.all("rect", class: "chart-hit").first?.number("y"))
        #expect(plotTop > unit.number("y")! + 10)

        let without = try parseChart(Charts.bars(bars, title: "Tickets opened per hour of day", unit: "tickets", showTitle: false))
        #expect(without.all("text", class: "chart-title").isEmpty)
        #expect(without["aria-label"] == "Tickets opened per hour of day")
        #expect(without.children[0].text == "Tickets opened per hour of day")
        // Same size; the plot is taller by the title band.
        #expect(without["height"] == with["height"])
        let plotWith = try #require(with.all("rect", class: "chart-hit").first?.number("height"))
        let plotWithout = try #require(without.all("rect", class: "chart-hit").first?.number("height"))
        #expect(abs(plotWithout - plotWith - Charts.titleBand) <= 0.11)

        let hist = try parseChart(Charts.histogram([1], buckets: [0, 2], title: "H", unit: "t", showTitle: false))
        #expect(hist.all("text", class: "chart-title").isEmpty)
        let shares = try parseChart(Charts.shares([(label: "a", share: 0.5, detail: "")], title: "S", showTitle: false))
        #expect(shares.all("text", class: "chart-title").isEmpty)
        #expect(shares.number("height")! == 24 + 26 + 8)
        let sharesTitled = try parseChart(Charts.shares([(label: "a", share: 0.5, detail: "")], title: "S"))
        #expect(sharesTitled.all("text", class: "chart-title").map(\.text) == ["S"])
    }

    @Test("one bar per value, each in its own item with a tooltip")
    func barCountAndTooltips() throws {
        let counts = [3, 0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6]
        let root = try parseChart(Charts.bars(chartHours(counts), title: "Tickets opened per hour of day", unit: "tickets"))
        #expect(chartBars(root).count == 24)
        let items = root.all("g", class: "chart-item")
        #expect(items.count == 24)
        #expect(items[6].children.first?.name == "title")
        #expect(items[6].children.first?.text == "06: 9 tickets")
        #expect(root["aria-label"] == "Tickets opened per hour of day")
        let desc = root.children[1].text
        #expect(desc.hasPrefix("Bar chart of 24 values in tickets: 00 3, 01 0, 02 1"))
        #expect(desc.contains("Highest: 06, 9 tickets."))

        let noted = try parseChart(Charts.bars([ChartBar(label: "Mon", value: 2, note: "2 by e-mail")], title: "t", unit: "tickets"))
        #expect(noted.all("g", class: "chart-item")[0].children[0].text == "Mon: 2 tickets — 2 by e-mail")
    }

    @Test("bar heights are proportional to the values and stand on one baseline")
    func proportionalHeights() throws {
        let values = [1.0, 2, 3.5, 10, 0.5, 7.25]
        let root = try parseChart(Charts.bars(values.enumerated().map { ChartBar(label: "b\($0.offset)", value: $0.element) },
                                              title: "Heights", unit: "h"))
        let bars = chartBars(root)
        #expect(bars.count == values.count)
        let baseline = bars[0].number("y")! + bars[0].number("height")!
        let scale = ChartScale.nice(max: 10, integral: false)
        let plot = try #require(root.all("rect", class: "chart-hit").first?.number("height"))
        for (bar, v) in zip(bars, values) {
            let h = try #require(bar.number("height"))
            #expect(abs(bar.number("y")! + h - baseline) <= 0.11)
            #expect(abs(h - v / scale.top * plot) <= 0.11, "value \(v): height \(h)")
        }
        // Widths and spacing are uniform.
        let widths = Set(bars.compactMap { $0["width"] })
        #expect(widths.count == 1)
        let xs = bars.compactMap { $0.number("x") }
        let gaps = zip(xs.dropFirst(), xs).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - gaps[0]) <= 0.11 })
    }

    @Test("nice scales: 4 or 5 ticks from 0 in steps of 1, 2 or 5 × 10^n, covering the maximum")
    func niceTicks() throws {
        #expect(ChartScale.nice(max: 1, integral: true).ticks == [0, 1, 2, 3])
        #expect(ChartScale.nice(max: 7, integral: true).ticks == [0, 2, 4, 6, 8])
        #expect(ChartScale.nice(max: 8, integral: true).ticks == [0, 2, 4, 6, 8])
        #expect(ChartScale.nice(max: 10, integral: true).ticks == [0, 5, 10, 15])
        #expect(ChartScale.nice(max: 12, integral: true).ticks == [0, 5, 10, 15])
        #expect(ChartScale.nice(max: 24, integral: true).ticks == [0, 10, 20, 30])
        #expect(ChartScale.nice(max: 1234, integral: true).ticks == [0, 500, 1000, 1500])
        #expect(ChartScale.nice(max: 0, integral: true).ticks == [0, 1, 2, 3])
        #expect(ChartScale.nice(max: 2, integral: false).ticks == [0, 0.5, 1, 1.5, 2])
        #expect(ChartScale.nice(max: 0.3, integral: false).ticks.map(ChartFormat.number) == ["0", "0.1", "0.2", "0.3"])
        #expect(ChartScale.nice(max: 0.001, integral: false).ticks.map(ChartFormat.number) == ["0", "0.1", "0.2", "0.3"])

        var m = 0.05
        while m < 1e16 {
            for integral in [true, false] where !integral || m >= 1 {
                let s = ChartScale.nice(max: m, integral: integral)
                #expect((4...5).contains(s.ticks.count), "max \(m): \(s.ticks)")
                #expect(s.ticks[0] == 0)
                #expect(s.top >= m * (1 - 1e-9) || m < 0.1, "max \(m): \(s.ticks)")
                var mantissa = s.step
                while mantissa >= 10 { mantissa /= 10 }
                while mantissa < 1 { mantissa *= 10 }
                #expect([1, 2, 5].contains { abs(mantissa - $0) < 1e-6 }, "step \(s.step)")
                #expect(!integral || s.step >= 1)
                #expect(s.step >= 0.1 - 1e-12)
                // The labels are distinct once written with one decimal at most.
                #expect(Set(s.ticks.map(ChartFormat.short)).count == s.ticks.count, "\(s.ticks.map(ChartFormat.short))")
            }
            m *= 1.37
        }

        let root = try parseChart(Charts.bars(chartHours([3, 12, 7]), title: "t", unit: "tickets"))
        #expect(chartTicks(root) == ["0", "5", "10", "15"])
        // The grid lines sit at the ticks: one per tick above 0.
        #expect(root.all("line", class: "chart-grid").count == 3)
    }

    @Test("all text is XML-escaped and comes back intact through the parser")
    func escaping() throws {
        let nasty = #"<script>alert("x") & 'y'</script>"#
        let svg = Charts.bars([ChartBar(label: nasty, value: 1, note: nasty)], title: nasty, unit: nasty)
        #expect(!svg.contains("<script>"))
        #expect(!svg.contains("alert(\"x\")"))
        #expect(svg.contains("&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"))
        let root = try parseChart(svg)
        #expect(root["aria-label"] == nasty)
        #expect(root.children[0].text == nasty)
        #expect(root.all("g", class: "chart-item")[0].children[0].text == nasty + ": 1 " + nasty + " — " + nasty)

        let shares = Charts.shares([(label: nasty, share: 0.5, detail: nasty)], title: nasty)
        #expect(!shares.contains("<script>"))
        #expect(try parseChart(shares)["aria-label"] == nasty)

        // Characters XML cannot hold do not break the document.
        let control = "a\u{1}b\u{0}c\u{FFFF}d\te\nf"
        let root2 = try parseChart(Charts.bars([ChartBar(label: control, value: 1)], title: control, unit: ""))
        #expect(root2["aria-label"] == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d e f")
        #expect(ChartText.escape(#"&<>"'"#) == "&amp;&lt;&gt;&quot;&#39;")
    }

    @Test("no bars: an empty plot that says so")
    func empty() throws {
        let root = try parseChart(Charts.bars([], title: "Nothing", unit: "tickets"))
        #expect(chartBars(root).isEmpty)
        #expect(root.all("text").contains { $0.text == "No data" })
        #expect(root.children[1].text == "No data.")
        #expect(root.all("line", class: "chart-axis").count == 1)
        #expect(root["width"] == "640" && root["height"] == "240")

        let shares = try parseChart(Charts.shares([], title: "Nothing"))
        #expect(chartBars(shares).isEmpty)
        #expect(shares.all("text").contains { $0.text == "No data" })

        let hist = try parseChart(Charts.histogram([1, 2], buckets: [], title: "All", unit: "tickets"))
        #expect(chartBars(hist).count == 1)
        #expect(try parseChart(Charts.histogram([], buckets: [], title: "None", unit: "t")).children[1].text == "No data.")
    }

    @Test("all zeros: zero-height bars on a 0…3 axis, no value labels")
    func allZero() throws {
        let root = try parseChart(Charts.bars(chartHours(Array(repeating: 0, count: 24)), title: "Zeros", unit: "tickets"))
        let bars = chartBars(root)
        #expect(bars.count == 24)
        #expect(bars.allSatisfy { $0["height"] == "0" })
        #expect(chartTicks(root) == ["0", "1", "2", "3"])
        #expect(root.all("text", class: "chart-value").isEmpty)
        #expect(root.children[1].text.hasSuffix("All values are 0."))
    }

    @Test("one bar: not wider than the cap, centred in the plot, with its value and label")
    func oneBar() throws {
        let root = try parseChart(Charts.bars([ChartBar(label: "Premium", value: 42)], title: "One", unit: "tickets"))
        let bar = try #require(chartBars(root).first)
        #expect(chartBars(root).count == 1)
        let w = try #require(bar.number("width"))
        #expect(w <= Charts.maxBarWidth)
        let hit = try #require(root.all("rect", class: "chart-hit").first)
        let centre = hit.number("x")! + hit.number("width")! / 2
        #expect(abs(bar.number("x")! + w / 2 - centre) <= 0.11)
        #expect(root.all("text", class: "chart-value").map(\.text) == ["42"])
        #expect(chartXLabels(root).map(\.text) == ["Premium"])
        #expect(chartTicks(root) == ["0", "20", "40", "60"])
    }

    @Test("negative values are drawn as zero, and their real value is still written")
    func negative() throws {
        let root = try parseChart(Charts.bars([ChartBar(label: "a", value: -3), ChartBar(label: "b", value: 6)], title: "Neg", unit: "x"))
        let bars = chartBars(root)
        #expect(bars[0]["height"] == "0")
        #expect(bars[0].number("y")! == bars[1].number("y")! + bars[1].number("height")!)
        #expect(root.all("text", class: "chart-value").map(\.text) == ["-3", "6"])
        #expect(chartTicks(root).first == "0")
        #expect(root.children[1].text.contains("Negative values are drawn as zero."))
        #expect(root.all("g", class: "chart-item")[0].children[0].text == "a: -3 x")
    }

    @Test("huge values get short axis labels and keep the layout")
    func huge() throws {
        let root = try parseChart(Charts.bars([ChartBar(label: "a", value: 2_500_000_000_000), ChartBar(label: "b", value: 1_000_000)],
                                              title: "Huge", unit: "x"))
        #expect(chartTicks(root) == ["0", "1T", "2T", "3T"])
        #expect(root.all("g", class: "chart-item")[0].children[0].text == "a: 2500000000000 x")
        let bars = chartBars(root)
        let plot = try #require(root.all("rect", class: "chart-hit").first?.number("height"))
        #expect(abs(bars[0].number("height")! - plot * 2.5 / 3) <= 0.11)
        #expect(bars[1]["height"] == "0")
        let biggest = try parseChart(Charts.bars([ChartBar(label: "a", value: .greatestFiniteMagnitude)], title: "Max", unit: ""))
        let top = try #require(chartBars(biggest).first)
        #expect(top.number("y")! >= 0 && top.number("height")! > 0)
        #expect(chartTicks(biggest) == ["0", "5e299", "1e300", "1.5e300"])
    }

    @Test("long Russian labels are ellipsized by characters and never leave their place")
    func longRussianLabels() throws {
        let labels = ["Запрос на восстановление доступа к почте", "Принтер", "Сбой оплаты по карте у клиента",
                      "Очень-очень-очень длинная категория обращений"]
        let svg = Charts.bars(labels.enumerated().map { ChartBar(label: $0.element, value: Double($0.offset + 1)) },
                              title: "Обращения по типам", unit: "обращений")
        let root = try parseChart(svg)
        let xl = chartXLabels(root)
        #expect(xl.count == labels.count)
        #expect(xl.allSatisfy { $0.text.count <= Charts.maxBarLabelCharacters })
        #expect(xl[0].text == "Запрос на в…")
        #expect(xl[1].text == "Принтер")
        // The full label is in the tooltip and the description.
        #expect(root.all("g", class: "chart-item")[0].children[0].text == labels[0] + ": 1 обращений")
        #expect(root.children[1].text.contains(labels[3]))
        try expectNoOverlap(xl, width: root.number("width")!)

        let row = "Премиальное обслуживание с расширенной поддержкой"
        let shares = try parseChart(Charts.shares([(label: row, share: 0.75, detail: "30 из 40")], title: "SLA"))
        let label = try #require(shares.all("text", class: "chart-label").last)
        #expect(label.text.count <= Charts.maxRowLabelCharacters && label.text.hasSuffix("…"))
        #expect(ChartText.width(label.text, size: Charts.labelSize) <= shares.number("width")! / 3)
        let bar = try #require(chartBars(shares).first)
        #expect(bar.number("x")! > label.number("x")! + ChartText.width(label.text, size: Charts.labelSize))
        // Very long text is cut quickly (the width bound keeps `fit` from trying every length).
        let huge = String(repeating: "Ж", count: 100_000)
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            let r = try parseChart(Charts.bars([ChartBar(label: huge, value: 1)], title: huge, unit: huge, xUnit: huge))
            #expect(r.all("text", class: "chart-label").allSatisfy { ChartText.width($0.text, size: Charts.labelSize) <= 640 })
            let title = try #require(r.all("text", class: "chart-title").first)
            #expect(title.text.hasSuffix("…") && ChartText.width(title.text, size: Charts.titleSize * 1.1) <= 632)
        }
        #expect(elapsed < .seconds(10))
        #expect(ChartText.ellipsize("Привет", maxCharacters: 6) == "Привет")
        #expect(ChartText.ellipsize("Привет!", maxCharacters: 6) == "Приве…")
        #expect(ChartText.ellipsize("👩‍👩‍👧‍👦👩‍👩‍👧‍👦👩‍👩‍👧‍👦", maxCharacters: 2) == "👩‍👩‍👧‍👦…")
    }

    /// X labels must not overlap one another (by the renderer's own width estimate) nor leave the picture.
    func expectNoOverlap(_ labels: [ChartNode], width: Double, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let boxes = labels.map { n -> (Double, Double) in
            let w = ChartText.width(n.text, size: Charts.labelSize)
            return (n.number("x")! - w / 2, n.number("x")! + w / 2)
        }
        let overlaps = zip(boxes, boxes.dropFirst()).filter { a, b in a.1 >= b.0 }
        #expect(overlaps.isEmpty, "\(overlaps.count) labels overlap, e.g. \(overlaps.prefix(2))", sourceLocation: sourceLocation)
        #expect(boxes.allSatisfy { $0.0 >= 0 && $0.1 <= width }, sourceLocation: sourceLocation)
    }

    @Test("x labels are thinned when there are many bars, evenly, without overlaps")
    func labelThinning() throws {
        // 24 hours fit in 640 px: every label is written.
        let day = try parseChart(Charts.bars(chartHours(Array(repeating: 1, count: 24)), title: "Hours", unit: "tickets"))
        #expect(chartXLabels(day).map(\.text) == (0..<24).map { String(format: "%02d", $0) })

        // …but not in 200 px.
        let narrow = try parseChart(Charts.bars(chartHours(Array(repeating: 1, count: 24)), title: "Hours", unit: "tickets", width: 200))
        let shown = chartXLabels(narrow).map(\.text)
        #expect(shown.count < 24 && shown.count >= 4)
        #expect(shown.first == "00")
        let indices = shown.map { Int($0)! }
        let step = indices[1] - indices[0]
        #expect(zip(indices.dropFirst(), indices).allSatisfy { $0 - $1 == step })
        try expectNoOverlap(chartXLabels(narrow), width: 200)

        // A year of days.
        let start = 0
        let year = (start..<365).map { ChartBar(label: "2025-\(String(format: "%03d", $0))", value: Double($0 % 9)) }
        let root = try parseChart(Charts.bars(year, title: "Days", unit: "tickets"))
        #expect(chartBars(root).count == 365)
        let xl = chartXLabels(root)
        #expect(xl.count > 5 && xl.count < 60)
        try expectNoOverlap(xl, width: 640)
        // Value labels are left out where they do not fit.
        #expect(root.all("text", class: "chart-value").isEmpty)

        // Long labels: thinned further, still no overlap.
        let long = (0..<40).map { ChartBar(label: "Категория номер \($0)", value: 1) }
        let lroot = try parseChart(Charts.bars(long, title: "Long", unit: "t"))
        try expectNoOverlap(chartXLabels(lroot), width: 640)
        #expect(chartXLabels(lroot).count < 40)
        #expect(Charts.labelStep(["00", "01"], slot: 25) == 1)
        #expect(Charts.labelStep(["", ""], slot: 0.001) == 1)
    }

    @Test("value labels appear above the bars where they fit")
    func valueLabels() throws {
        let root = try parseChart(Charts.bars([ChartBar(label: "a", value: 5), ChartBar(label: "b", value: 0), ChartBar(label: "c", value: 12.25)],
                                              title: "v", unit: "h"))
        let values = root.all("text", class: "chart-value")
        #expect(values.map(\.text) == ["5", "12.3"])
        let bars = chartBars(root)
        #expect(values[0].number("y")! < bars[0].number("y")!)
        // Crowded bars with wide numbers: none written.
        let crowded = try parseChart(Charts.bars((0..<60).map { ChartBar(label: "\($0)", value: 123456) }, title: "c", unit: ""))
        #expect(crowded.all("text", class: "chart-value").isEmpty)
    }

    @Test("the same input gives the same string")
    func determinism() throws {
        let bars = (0..<31).map { ChartBar(label: "03-\($0 + 1)", value: Double(($0 * 7) % 11), note: "n\($0)") }
        #expect(Charts.bars(bars, title: "D", unit: "tickets") == Charts.bars(bars, title: "D", unit: "tickets"))
        let values = (0..<500).map { Double(($0 * 37) % 101) / 7 }
        let a = Charts.histogram(values, buckets: [0.5, 1, 2, 4, 8, 24], title: "H", unit: "tickets")
        let b = Charts.histogram(values.reversed(), buckets: [24, 8, 4, 2, 1, 0.5, 2], title: "H", unit: "tickets")
        #expect(a == b)
        let rows = [(label: "Basic", share: 0.8, detail: "8 of 10"), (label: "Premium", share: 1.0, detail: "4 of 4")]
        #expect(Charts.shares(rows, title: "S") == Charts.shares(rows, title: "S"))
    }

    @Test("numbers: no locale, one decimal digit at most, no grouping; coordinates likewise")
    func numbers() throws {
        #expect(ChartFormat.number(0) == "0")
        #expect(ChartFormat.number(-0.01) == "0")
        #expect(ChartFormat.number(12345.54) == "12345.5")
        #expect(ChartFormat.number(1234567) == "1234567")
        #expect(ChartFormat.number(2.96) == "3")
        #expect(ChartFormat.number(-7.25) == "-7.3")
        #expect(ChartFormat.number(0.1 * 3) == "0.3")
        #expect(ChartFormat.number(1e15) == "1e15")
        #expect(ChartFormat.number(1.26e20) == "1.3e20")
        #expect(ChartFormat.number(9.99e16) == "1e17")
        #expect(ChartFormat.short(999_999) == "999999")
        #expect(ChartFormat.short(1_500_000) == "1.5M")
        #expect(ChartFormat.short(2e9) == "2G")
        #expect(ChartFormat.short(-3e12) == "-3T")
        #expect(ChartFormat.percent(0.935) == "93.5%")
        #expect(ChartFormat.percent(1) == "100%")
        #expect(ChartFormat.percent(0.99999) == ">99.9%")
        #expect(ChartFormat.percent(0.000001) == "<0.1%")
        #expect(ChartFormat.percent(0) == "0%")
        #expect(ChartFormat.percent(-2) == "0%")
        #expect(ChartFormat.percent(.nan) == "0%")

        let svgs = [Charts.bars((0..<7).map { ChartBar(label: "d\($0)", value: Double($0) * 1.37) }, title: "c", unit: "h", width: 333, height: 177),
                    Charts.shares([(label: "a", share: 1.0 / 3, detail: ""), (label: "b", share: 2.0 / 3, detail: "")], title: "s", width: 517),
                    Charts.histogram([0.3, 0.7, 1.1, 9], buckets: [0, 0.5, 1, 2], title: "h", unit: "t")]
        let numeric: Set<String> = ["x", "y", "width", "height", "x1", "y1", "x2", "y2", "font-size", "stroke-width"]
        for svg in svgs {
            let root = try parseChart(svg)
            for node in [root] + root.descendants {
                for (name, value) in node.attributes where numeric.contains(name) {
                    #expect(value.wholeMatch(of: /-?[0-9]+(\.[0-9])?/) != nil, "\(node.name) \(name)=\(value)")
                }
            }
        }
    }

    @Test("colours: CSS classes plus inline defaults on every mark")
    func colours() throws {
        let svgs = [Charts.bars(chartHours([1, 2, 3]), title: "c", unit: "tickets"),
                    Charts.shares([(label: "Basic", share: 0.5, detail: "")], title: "s")]
        for svg in svgs {
            let root = try parseChart(svg)
            for node in root.descendants {
                switch node.name {
                case "rect": #expect(node["fill"] != nil && (node.has(class: "chart-bar") || node.has(class: "chart-hit")))
                case "line": #expect(node["stroke"] != nil && (node.has(class: "chart-axis") || node.has(class: "chart-grid")))
                case "text": #expect(node["fill"] != nil && ["chart-label", "chart-value", "chart-title"].contains { node.has(class: $0) })
                default: break
                }
            }
            #expect(root.all("line", class: "chart-axis").allSatisfy { $0["stroke"] == Charts.axisColour })
            #expect(chartBars(root).allSatisfy { $0["fill"] == Charts.barColour })
            #expect(root.all("rect", class: "chart-hit").allSatisfy { $0["fill-opacity"] == "0" })
        }
    }

    @Test("histogram: half-open buckets, a last ≥ bucket, a first < bucket when needed")
    func histogram() throws {
        let values = [0.1, 0.5, 0.7, 1, 1.5, 3, 23.9, 24, 100, .nan]
        let root = try parseChart(Charts.histogram(values, buckets: [0.5, 1, 2, 4, 8, 24], title: "Reaction", unit: "tickets",
                                                   valueUnit: "business hours"))
        let labels = chartXLabels(root).map(\.text)
        #expect(labels == ["< 0.5", "0.5–1", "1–2", "2–4", "4–8", "8–24", "≥ 24"])
        let tips = root.all("g", class: "chart-item").map { $0.children[0].text }
        #expect(tips == ["< 0.5: 1 tickets — under 0.5 business hours",
                         "0.5–1: 2 tickets — from 0.5 to under 1 business hours",
                         "1–2: 2 tickets — from 1 to under 2 business hours",
                         "2–4: 1 tickets — from 2 to under 4 business hours",
                         "4–8: 0 tickets — from 4 to under 8 business hours",
                         "8–24: 1 tickets — from 8 to under 24 business hours",
                         "≥ 24: 2 tickets — 24 business hours or more"])
        #expect(root.all("text", class: "chart-label").contains { $0.text == "business hours" })
        let bars = chartBars(root)
        #expect(bars.count == 7)
        let h = bars.map { $0.number("height")! }
        #expect(abs(h[1] - 2 * h[0]) <= 0.2 && h[4] == 0)

        // Edges from 0 with non-negative values: no "< 0" bucket; a negative value brings it in.
        let fromZero = try parseChart(Charts.histogram([0, 0.2, 5], buckets: [0, 1, 2], title: "h", unit: "t"))
        #expect(chartXLabels(fromZero).map(\.text) == ["0–1", "1–2", "≥ 2"])
        #expect(chartBars(fromZero).count == 3)
        let withNegative = try parseChart(Charts.histogram([-1, 0.2], buckets: [0, 1, 2], title: "h", unit: "t"))
        #expect(chartXLabels(withNegative).map(\.text) == ["< 0", "0–1", "1–2", "≥ 2"])

        // No values: the buckets, all zero.
        let none = try parseChart(Charts.histogram([], buckets: [1, 2], title: "h", unit: "t"))
        #expect(chartBars(none).count == 3)
        #expect(chartBars(none).allSatisfy { $0["height"] == "0" })

        // One edge.
        let one = try parseChart(Charts.histogram([1, 5, 9], buckets: [4], title: "h", unit: "t"))
        #expect(chartXLabels(one).map(\.text) == ["< 4", "≥ 4"])
        #expect(one.all("text", class: "chart-value").map(\.text) == ["1", "2"])
    }

    @Test("shares: bars from 0 to 100 %, clamped, with the percentage beside each")
    func shares() throws {
        let rows = [(label: "Basic", share: 0.5, detail: "10 of 20"), (label: "Premium", share: 1.0, detail: "4 of 4"),
                    (label: "Free", share: 0, detail: "0 of 3"), (label: "Over", share: 1.7, detail: ""),
                    (label: "Under", share: -0.2, detail: ""), (label: "Odd", share: 0.9351, detail: "")]
        let svg = Charts.shares(rows, title: "Share of first reactions within the SLA, per tier")
        let root = try parseChart(svg)
        let bars = chartBars(root)
        #expect(bars.count == rows.count)
        let full = bars[1].number("width")!
        #expect(full > 100)
        #expect(abs(bars[0].number("width")! - full / 2) <= 0.11)
        #expect(bars[2]["width"] == "0")
        #expect(bars[3].number("width")! == full)
        #expect(bars[4]["width"] == "0")
        #expect(abs(bars[5].number("width")! - full * 0.9351) <= 0.11)
        #expect(Set(bars.map { $0["x"]! }).count == 1)
        let values = root.all("text", class: "chart-value")
        #expect(values.map(\.text) == ["50%", "100%", "0%", "100%", "0%", "93.5%"])
        for (v, b) in zip(values, bars) {
            #expect(v.number("x")! >= b.number("x")! + b.number("width")!)
            #expect(v.number("x")! + ChartText.width(v.text, size: Charts.labelSize) <= root.number("width")!)
        }
        let tips = root.all("g", class: "chart-item").map { $0.children[0].text }
        #expect(tips[0] == "Basic: 50% — 10 of 20")
        #expect(tips[3] == "Over: 100%")
        #expect(root.children[1].text.hasPrefix("Percentages from 0 to 100: Basic 50% (10 of 20), Premium 100% (4 of 4)"))
        // The scale: 0, 25, 50, 75, 100 %.
        #expect(root.all("text", class: "chart-label").filter { $0["text-anchor"] == "middle" }.map(\.text) == ["0%", "25%", "50%", "75%", "100%"])
        #expect(root.all("line", class: "chart-grid").count == 4)
        #expect(root.number("height")! == 20 + 24 + 26 * 6 + 8)
    }
}
