// UIKit images <-> the core's pixels. Decoding files goes through ImageFile (ImageIO), which
// applies the EXIF orientation and composites alpha over white, as docs/preprocessing.md asks.

import Pix2MobileCore
import UIKit

enum Images {
    /// A camera UIImage -> pixels at its full pixel size, orientation applied, over white.
    static func pixels(_ image: UIImage) throws -> RGBImage {
        let format = UIGraphicsImageRendererFormat()
        format.scale = 1
        format.opaque = true
        format.preferredRange = .standard
        let size = CGSize(width: image.size.width * image.scale, height: image.size.height * image.scale)
        let drawn = UIGraphicsImageRenderer(size: size, format: format).image { context in
            UIColor.white.setFill()
            context.fill(CGRect(origin: .zero, size: size))
            image.draw(in: CGRect(origin: .zero, size: size))
        }
        guard let cgImage = drawn.cgImage else { throw CoreError("could not read the camera's image") }
        return try ImageFile.pixels(of: cgImage)
    }

    static func uiImage(_ image: RGBImage) -> UIImage? {
        ImageFile.cgImage(image).map { UIImage(cgImage: $0) }
    }
}
