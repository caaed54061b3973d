"""The controller: reconciles applied models (triggers, monitoring schedule, guards, runs)."""
