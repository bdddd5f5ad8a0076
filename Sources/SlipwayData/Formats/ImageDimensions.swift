/// Reads an image's width and height from the first bytes of its file (PNG, JPEG, GIF, BMP, WebP),
/// without decoding it.
public enum ImageDimensions {
    /// How many leading bytes of a file to pass: enough for the headers of every supported format
    /// (a JPEG's frame header may follow large metadata segments, which this many bytes usually covers).
    public static let headerLength = 256 * 1024

    /// The dimensions, or `nil` when the bytes are not a supported image or are cut short.
    public static func of(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        func big16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        func big32(_ at: Int) -> Int { big16(at) << 16 | big16(at + 2) }
        func little16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func little32(_ at: Int) -> Int { little16(at) | little16(at + 2) << 16 }

        if bytes.count >= 24, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return (big32(16), big32(20))
        }
        if bytes.count >= 10, bytes.starts(with: Array("GIF8".utf8)) {
            return (little16(6), little16(8))
        }
        if bytes.count >= 26, bytes.starts(with: Array("BM".utf8)) {
            return (little32(18), abs(Int(Int32(truncatingIfNeeded: little32(22)))))
        }
        if bytes.count >= 30, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            switch String(decoding: bytes[12..<16], as: UTF8.self) {
            case "VP8X":
                return (
                    1 + (Int(bytes[24]) | Int(bytes[25]) << 8 | Int(bytes[26]) << 16),
                    1 + (Int(bytes[27]) | Int(bytes[28]) << 8 | Int(bytes[29]) << 16)
                )
            case "VP8 ": return (little16(26) & 0x3FFF, little16(28) & 0x3FFF)
            case "VP8L":
                let b = (1...4).map { Int(bytes[20 + $0]) }
                return (1 + (b[0] | (b[1] & 0x3F) << 8), 1 + ((b[1] >> 6) | b[2] << 2 | (b[3] & 0x0F) << 10))
            default: return nil
            }
        }
        if bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 {
            var index = 2
            while index + 9 < bytes.count {
                guard bytes[index] == 0xFF else { return nil }
                let marker = bytes[index + 1]
                if marker == 0xFF { index += 1; continue }
                let length = big16(index + 2)
                // Start-of-frame markers hold the dimensions; C4 (huffman), C8 and CC (arithmetic) are not frames.
                if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                    return (big16(index + 7), big16(index + 5))
                }
                index += 2 + length
            }
        }
        return nil
    }
}

/// Media types of the files an image-folder push takes, by extension.
public enum MediaTypes {
    public static let images: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "bmp": "image/bmp", "webp": "image/webp",
    ]

    /// The media type of a file named `name`, or `nil` when it is not an image.
    public static func image(forFileNamed name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return images[name[name.index(after: dot)...].lowercased()]
    }
}
