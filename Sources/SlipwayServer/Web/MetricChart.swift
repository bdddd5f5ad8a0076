import Foundation

/// A line chart of one metric over steps, drawn on the server as SVG (the web UI runs no JavaScript).
///
/// Each series is one run's history. Points that are NaN or infinite are left out; a long history is
/// thinned to at most `maximumPoints` per series, always keeping the first and last point.
struct MetricChart: Sendable {
    /// One line: a label (the run) and its points.
    struct Series: Sendable {
        var label: String
        var points: [(step: Double, value: Double)]
    }

    var title: String
    var series: [Series]
    var width = 520
    var height = 240
    var maximumPoints = 1000

    /// Line colours, one per series in turn; distinguishable for common colour blindness (Okabe–Ito).
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]

    private static let margin = (left: 56.0, right: 12.0, top: 22.0, bottom: 28.0)

    /// The chart as an `<svg>` element, text escaped.
    var svg: String {
        let lines = series.map { Series(label: $0.label, points: Self.thin($0.points.filter { $0.value.isFinite }, to: maximumPoints)) }
        let all = lines.flatMap(\.points)
        let plot = (
            x: Self.margin.left, y: Self.margin.top, width: Double(width) - Self.margin.left - Self.margin.right,
            height: Double(height) - Self.margin.top - Self.margin.bottom
        )
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(Self.escape(title))\">"
        out += "<title>\(Self.escape(title))</title>"
        out += "<text x=\"\(Self.margin.left)\" y=\"14\" class=\"chart-title\">\(Self.escape(title))</text>"
        guard let first = all.first else {
            out +=
                "<text x=\"\(Double(width) / 2)\" y=\"\(Double(height) / 2)\" text-anchor=\"middle\" class=\"chart-empty\">no finite values</text></svg>"
            return out
        }
        var (minStep, maxStep, minValue, maxValue) = (first.step, first.step, first.value, first.value)
        for point in all {
            minStep = min(minStep, point.step)
            maxStep = max(maxStep, point.step)
            minValue = min(minValue, point.value)
            maxValue = max(maxValue, point.value)
        }
        if maxStep == minStep { (minStep, maxStep) = (minStep - 1, maxStep + 1) }
        if maxValue == minValue {
            let pad = max(abs(maxValue) * 0.05, 1e-9)
            (minValue, maxValue) = (minValue - pad, maxValue + pad)
        }
        func x(_ step: Double) -> Double { plot.x + (step - minStep) / (maxStep - minStep) * plot.width }
        func y(_ value: Double) -> Double { plot.y + (1 - (value - minValue) / (maxValue - minValue)) * plot.height }

        // Axes with three value ticks and the first and last step.
        out += "<g class=\"chart-axes\">"
        out += "<line x1=\"\(plot.x)\" y1=\"\(plot.y + plot.height)\" x2=\"\(plot.x + plot.width)\" y2=\"\(plot.y + plot.height)\"/>"
        out += "<line x1=\"\(plot.x)\" y1=\"\(plot.y)\" x2=\"\(plot.x)\" y2=\"\(plot.y + plot.height)\"/>"
        for fraction in [0.0, 0.5, 1.0] {
            let value = minValue + (maxValue - minValue) * fraction
            let tickY = Self.round(y(value))
            out += "<line class=\"chart-grid\" x1=\"\(plot.x)\" y1=\"\(tickY)\" x2=\"\(plot.x + plot.width)\" y2=\"\(tickY)\"/>"
            out += "<text x=\"\(plot.x - 4)\" y=\"\(tickY + 4)\" text-anchor=\"end\">\(Self.label(value))</text>"
        }
        out += "<text x=\"\(plot.x)\" y=\"\(Double(height) - 8)\">\(Self.label(minStep))</text>"
        out += "<text x=\"\(plot.x + plot.width)\" y=\"\(Double(height) - 8)\" text-anchor=\"end\">step \(Self.label(maxStep))</text>"
        out += "</g>"

        for (index, line) in lines.enumerated() where !line.points.isEmpty {
            let colour = Self.palette[index % Self.palette.count]
            out += "<g class=\"chart-series\" data-series=\"\(Self.escape(line.label))\"><title>\(Self.escape(line.label))</title>"
            if line.points.count == 1 {
                out +=
                    "<circle cx=\"\(Self.round(x(line.points[0].step)))\" cy=\"\(Self.round(y(line.points[0].value)))\" r=\"3\" fill=\"\(colour)\"/>"
            } else {
                let coordinates = line.points.map { "\(Self.round(x($0.step))),\(Self.round(y($0.value)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.6\" points=\"\(coordinates)\"/>"
            }
            out += "</g>"
        }
        if lines.count > 1 {
            for (index, line) in lines.enumerated() {
                let legendY = plot.y + 4 + Double(index) * 14
                guard legendY < plot.y + plot.height else { break }
                let colour = Self.palette[index % Self.palette.count]
                out +=
                    "<g class=\"chart-legend\"><rect x=\"\(plot.x + plot.width - 110)\" y=\"\(legendY - 8)\" width=\"10\" height=\"3\" fill=\"\(colour)\"/>"
                out += "<text x=\"\(plot.x + plot.width - 96)\" y=\"\(legendY - 4)\">\(Self.escape(String(line.label.prefix(16))))</text></g>"
            }
        }
        return out + "</svg>"
    }

    /// Keeps at most `limit` points, evenly spaced, always including the last.
    static func thin(_ points: [(step: Double, value: Double)], to limit: Int) -> [(step: Double, value: Double)] {
        guard points.count > limit, limit >= 2 else { return points }
        let stride = Double(points.count - 1) / Double(limit - 1)
        return (0..<limit).map { points[Int((Double($0) * stride).rounded())] }
    }

    static func round(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    /// A compact number for an axis: 4 significant digits.
    static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
