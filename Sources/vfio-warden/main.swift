print("vfio-warden")
