"""Pages for journeys: list, journey map with touchpoints and the emotion curve."""
