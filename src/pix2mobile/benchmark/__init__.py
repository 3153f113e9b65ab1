"""pix2mobile.benchmark"""
