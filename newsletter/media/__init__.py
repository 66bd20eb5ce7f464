"""The media library: images editors put in their issues, stored in the database."""
