// The libudev monitor lands here (UdevMonitor.swift).
