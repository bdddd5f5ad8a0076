import Foundation
import SlipwayDomain

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Pascal VOC annotations: one XML file per image (`Annotations/000001.xml`) naming the image
/// (`<filename>`, relative to `JPEGImages/`), its `<size>`, and an `<object>` per box with its class
/// (`<name>`) and corners (`<bndbox>` `xmin ymin xmax ymax`, in pixels). `<difficult>`, `<truncated>`,
/// `<pose>` and `<part>` are not kept.
public enum PascalVOC {
    /// The image one VOC annotation file describes, with a box annotation per object.
    /// - Throws: ``DataImportError`` when the XML is malformed, is not an `<annotation>`, names no file, or an
    ///   object lacks a name or a box, has a coordinate that is not a number, or has `xmax < xmin` or `ymax < ymin`.
    public static func image(from data: Data) throws -> AnnotatedImage {
        let reader = Reader()
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        if !parser.parse() {
            if let problem = reader.problem { throw problem }
            let line = parser.lineNumber
            throw DataImportError.invalid("not a Pascal VOC annotation: the XML is malformed near line \(line)")
        }
        if let problem = reader.problem { throw problem }
        guard reader.sawRoot else { throw DataImportError.invalid("not a Pascal VOC annotation: the XML is empty") }
        guard reader.closedRoot else { throw DataImportError.invalid("not a Pascal VOC annotation: the XML ends before </annotation>") }
        guard let fileName = reader.fileName, !fileName.isEmpty else {
            throw DataImportError.invalid("the annotation has no <filename>")
        }
        if let problem = AnnotatedImage.pathProblem(fileName) {
            throw DataImportError.invalid("<filename> '\(fileName)' \(problem)")
        }
        var image = AnnotatedImage(
            fileName: fileName, width: try size(reader.width, "width"), height: try size(reader.height, "height"))
        for (index, object) in reader.objects.enumerated() {
            let name = "object \(index + 1)\(object.name.map { " (\($0))" } ?? "")"
            guard let label = object.name, !label.isEmpty else { throw DataImportError.invalid("\(name) has no <name>") }
            var corners: [Double] = []
            for key in ["xmin", "ymin", "xmax", "ymax"] {
                guard let text = object.corners[key] else { throw DataImportError.invalid("\(name): <bndbox> has no <\(key)>") }
                guard let value = Double(text), value.isFinite else {
                    throw DataImportError.invalid("\(name): <\(key)> is '\(text)', not a number")
                }
                corners.append(value)
            }
            guard corners[2] >= corners[0] else {
                throw DataImportError.invalid("\(name): xmax (\(text(corners[2]))) is less than xmin (\(text(corners[0])))")
            }
            guard corners[3] >= corners[1] else {
                throw DataImportError.invalid("\(name): ymax (\(text(corners[3]))) is less than ymin (\(text(corners[1])))")
            }
            image.annotations.append(
                Annotation(
                    kind: .box, label: label,
                    box: BoundingBox(x: corners[0], y: corners[1], width: corners[2] - corners[0], height: corners[3] - corners[1]),
                    source: .imported))
        }
        return image
    }

    /// The VOC annotation of `record`: `<filename>` is its file's path, `<size>` its `width`/`height` fields, and
    /// each box annotation an `<object>` (`xmax = x + width`, `ymax = y + height`). Text is escaped for XML.
    /// - Throws: ``DataImportError`` when the record has no file, or a text holds a character XML cannot carry.
    public static func document(for record: DatasetRecord) throws -> Data {
        guard let file = record.file else { throw DataImportError.invalid("record '\(record.id)' has no file: a VOC annotation needs one") }
        var xml = "<annotation>\n"
        xml += "\t<folder>JPEGImages</folder>\n"
        xml += "\t<filename>\(try escape(file.path))</filename>\n"
        if let width = record.fields["width"]?.doubleValue, let height = record.fields["height"]?.doubleValue {
            xml += "\t<size>\n\t\t<width>\(text(width))</width>\n\t\t<height>\(text(height))</height>\n\t</size>\n"
        }
        xml += "\t<segmented>0</segmented>\n"
        for annotation in record.annotations where annotation.kind == .box {
            guard let box = annotation.box, let label = annotation.label else { continue }
            xml += "\t<object>\n"
            xml += "\t\t<name>\(try escape(label))</name>\n"
            xml += "\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n"
            xml += "\t\t<bndbox>\n"
            xml += "\t\t\t<xmin>\(text(box.x))</xmin>\n\t\t\t<ymin>\(text(box.y))</ymin>\n"
            xml += "\t\t\t<xmax>\(text(box.x + box.width))</xmax>\n\t\t\t<ymax>\(text(box.y + box.height))</ymax>\n"
            xml += "\t\t</bndbox>\n"
            xml += "\t</object>\n"
        }
        xml += "</annotation>\n"
        return Data(xml.utf8)
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped.
    /// - Throws: ``DataImportError`` for control characters, which XML 1.0 cannot carry at all.
    static func escape(_ text: String) throws -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    throw DataImportError.invalid("'\(text.debugDescription)' holds a control character, which XML cannot carry")
                }
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// A coordinate as VOC files write it: whole numbers without a decimal point (`12`, `12.5`).
    static func text(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private static func size(_ text: String?, _ name: String) throws -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Double(text), value >= 0, value == value.rounded(), value < Double(Int32.max) else {
            throw DataImportError.invalid("<size><\(name)> is '\(text)', not a whole number of pixels")
        }
        return value == 0 ? nil : Int(value)
    }

    /// An `<object>` as read, before it is checked.
    private struct Object {
        var name: String?
        var corners: [String: String] = [:]
    }

    /// Collects the elements VOC uses, by their path from the root; everything else is ignored.
    private final class Reader: NSObject, XMLParserDelegate {
        var path: [String] = []
        var characters = ""
        var sawRoot = false
        var closedRoot = false
        var fileName: String?
        var width: String?
        var height: String?
        var objects: [Object] = []
        var current: Object?
        var problem: DataImportError?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
            attributes attributeDict: [String: String] = [:]
        ) {
            if path.isEmpty {
                sawRoot = true
                guard elementName == "annotation" else {
                    problem = DataImportError.invalid("not a Pascal VOC annotation: the root element is <\(elementName)>, not <annotation>")
                    parser.abortParsing()
                    return
                }
            }
            path.append(elementName)
            characters = ""
            if path == ["annotation", "object"] { current = Object() }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            characters += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            let value = characters.trimmingCharacters(in: .whitespacesAndNewlines)
            switch path {
            case ["annotation", "filename"]: fileName = value
            case ["annotation", "size", "width"]: width = value
            case ["annotation", "size", "height"]: height = value
            case ["annotation", "object", "name"]: current?.name = value
            case ["annotation", "object", "bndbox", "xmin"], ["annotation", "object", "bndbox", "ymin"],
                ["annotation", "object", "bndbox", "xmax"], ["annotation", "object", "bndbox", "ymax"]:
                current?.corners[elementName] = value
            case ["annotation", "object"]:
                if let current { objects.append(current) }
                current = nil
            default: break
            }
            path.removeLast()
            if path.isEmpty { closedRoot = true }
            characters = ""
        }
    }
}
