"""pix2mobile.quantize"""
