"""ehc-timeliness core: what the workflows, activities, API and worker share."""
